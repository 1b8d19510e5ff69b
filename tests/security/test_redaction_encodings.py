"""The leak hunt over the encodings real tools and Python print.

Each producer is the real thing where it runs here: Python's ``repr`` and the messages of
exceptions that embed a value, ``kubectl`` (Go's ``encoding/json`` and Go YAML, folded),
PyYAML in every style, ``base64`` (76 columns) and ``openssl base64`` (64 columns), MIME and
PEM wrapping, ``html.escape`` and markupsafe's escaping, ``urllib`` with several safe sets.
For each producer and secret, the hunt first checks that its detector finds the secret in the
producer's output (so the hunt can fail), then that nothing of it is left after redaction.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
import textwrap
import traceback
from collections.abc import Callable
from urllib.parse import quote, quote_plus, urlencode

import pytest
import yaml

from qengine.secrets.redaction import Redactor

HOSTILE = "hunter2 <&> 'q' \"dq\" back\\slash \x7f\u200b é+/=~!*() \u2028 end"
SECRETS = (
    HOSTILE,
    "tok_3f9a8b7c6d5e4f3a2b1c0d9e8f7a",
    "correct horse battery staple orbit lantern velvet meadow quartz",
    # Go's YAML refuses control characters: kubectl gets the hostile value without them.
    HOSTILE.replace("\x7f", ""),
)
WINDOW = 10


def _exception(call: Callable[[], object]) -> str:
    try:
        call()
    except Exception:
        return traceback.format_exc()
    raise AssertionError("the call did not raise")


def _kubectl(fmt: str, value: str) -> str:
    value = value.replace("\x7f", "")
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is on the image (see TESTING.md)"
    done = subprocess.run(
        [
            kubectl,
            "create",
            "configmap",
            "c",
            f"--from-literal=key={value}",
            "-o",
            fmt,
            "--dry-run=client",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def _wrapped_b64(tool: list[str], value: str) -> str:
    data = ("prefix-" + value + "-suffix").encode()
    return subprocess.run(tool, input=data, capture_output=True, check=True).stdout.decode()


def _markupsafe(value: str) -> str:
    # MarkupSafe (Jinja's escaping) comes with the test extras (moto's server needs Flask).
    import markupsafe

    return str(markupsafe.escape(value))


_EMPTY: dict[str, str] = {}
Producer = Callable[[str], str]
PRODUCERS: dict[str, Producer] = {
    "repr": lambda v: repr(["item", v, {"k": v}]),
    "repr-both-quotes": lambda v: repr('it\'s "both" ' + v),
    "ascii": lambda v: ascii(v),
    "bytes-repr": lambda v: repr(v.encode()),
    "int-error": lambda v: _exception(lambda: int(v)),
    "float-error": lambda v: _exception(lambda: float(v)),
    "key-error": lambda v: _exception(lambda: _EMPTY[v]),
    "kubectl-json": lambda v: _kubectl("json", v),
    "kubectl-yaml": lambda v: _kubectl("yaml", "padding " * 9 + v),
    "yaml-plain-folded": lambda v: yaml.safe_dump({"k": "pad " * 15 + v}, width=40),
    "yaml-double": lambda v: yaml.safe_dump({"k": "x " * 30 + v}, default_style='"'),
    "yaml-double-unicode": lambda v: yaml.safe_dump(
        {"k": "x " * 30 + v}, default_style='"', allow_unicode=True
    ),
    "yaml-single": lambda v: yaml.safe_dump({"k": v}, default_style="'"),
    "yaml-folded-block": lambda v: yaml.safe_dump({"k": "pad " * 15 + v}, default_style=">"),
    "base64-76": lambda v: _wrapped_b64(["base64"], "x" * 40 + v),
    "openssl-64": lambda v: _wrapped_b64(["openssl", "base64"], "x" * 41 + v),
    "mime-76": lambda v: base64.encodebytes(("y" * 42 + v).encode()).decode(),
    "pem-64-indented": lambda v: textwrap.indent(
        "\n".join(textwrap.wrap(base64.b64encode(("z" * 43 + v).encode()).decode(), 64)), "    "
    ),
    "html": lambda v: f"<p title='{html.escape(v)}'>{html.escape(v, quote=False)}</p>",
    "markupsafe": lambda v: f"<td>{_markupsafe(v)}</td>",
    "url-empty-safe": lambda v: "https://h/?a=" + quote(v, safe=""),
    "url-path": lambda v: "https://h/" + quote(v),
    "url-userinfo": lambda v: "https://user:" + quote(v, safe="!$&'()*+,;=") + "@h/",
    "url-encodeURIComponent": lambda v: "?q=" + quote(v, safe="!~*'()"),
    "url-encodeURI": lambda v: quote(v, safe=";,/?:@&=+$-_.!~*'()#"),
    "urlencode": lambda v: urlencode({"password": v, "user": "u"}),
    "quote-plus-lower": lambda v: re.sub(
        "%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote_plus(v)
    ),
}


def _b64_windows(value: str) -> set[str]:
    """Pieces of base64(secret) at each byte alignment that depend on the secret alone."""
    pieces = set()
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + value.encode()).decode()[4:-4]
        pieces |= {encoded[i : i + WINDOW] for i in range(len(encoded) - WINDOW + 1)}
    return pieces


def _windows(text: str) -> set[str]:
    return {text[i : i + WINDOW] for i in range(len(text) - WINDOW + 1)}


def _unfold(text: str) -> str:
    """A YAML/line-wrapped text on one line: continuation escapes and breaks removed."""
    text = re.sub(r"\\\n\s*\\ ", " ", text)
    return re.sub(r"\n\s*", " ", text)


def _leaks(name: str, secret: str, text: str) -> list[str]:
    """Windows of the secret, as this producer spells it, that ``text`` still holds."""
    if name in {"base64-76", "openssl-64", "mime-76", "pem-64-indented"}:
        flat = re.sub(r"\s", "", text)
        return sorted(w for w in _b64_windows(secret) if w in flat)
    flat = _unfold(text)
    # Spellings a producer may use for the secret: decode the text's escapes back instead
    # of encoding the secret, so the detector does not share the redactor's list.
    decoded = {flat, html.unescape(flat), _unquote(flat), _unescape(flat)}
    return sorted({w for w in _windows(secret) for d in decoded if w in d})


def _unquote(text: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(text)


def _unescape(text: str) -> str:
    """Backslash escapes of Python, JSON and YAML decoded (what is not one is kept)."""
    simple = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"', "/": "/", "_": "\xa0"}
    pattern = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "xuU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return simple.get(code, match.group(0))

    flat = pattern.sub(one, text)
    # bytes repr: UTF-8 bytes as \xNN each, decoded above one per character.
    try:
        return flat + "\n" + flat.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return flat


@pytest.mark.parametrize("name", sorted(PRODUCERS))
@pytest.mark.parametrize("secret", SECRETS[:3], ids=["hostile", "token", "passphrase"])
def test_no_encoding_of_a_secret_survives(name: str, secret: str) -> None:
    if name.startswith("kubectl"):
        secret = secret.replace("\x7f", "")
    output = PRODUCERS[name](secret)
    assert _leaks(name, secret, output), "the detector must see the secret before redaction"
    redacted = Redactor(SECRETS).redact(output)
    assert "***" in redacted
    assert _leaks(name, secret, redacted) == []
    assert _leaks(name, secret, Redactor(SECRETS).redact(output.encode()).decode()) == []


def test_json_from_python_is_covered_too() -> None:
    secret = SECRETS[0]
    for text in (json.dumps({"k": secret}), json.dumps({"k": secret}, ensure_ascii=False)):
        assert secret not in _unescape(Redactor([secret]).redact(text))
