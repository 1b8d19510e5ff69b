"""The redactor: every covered encoding of every secret is gone after redaction."""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Callable
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from qengine.secrets.redaction import Redactor
from qengine.secrets.value import SecretValue

Encoder = Callable[[str], str]


def _b64(encode: Callable[[bytes], bytes], strip: bool) -> Encoder:
    def encoder(value: str) -> str:
        text = encode(value.encode()).decode()
        return text.rstrip("=") if strip else text

    return encoder


ENCODINGS: dict[str, Encoder] = {
    "raw": lambda v: v,
    "json": lambda v: json.dumps(v)[1:-1],
    "json-utf8": lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
    "url": lambda v: quote(v, safe=""),
    "url-path": quote,
    "url-plus": quote_plus,
    "shell": shlex.quote,
    "b64": _b64(base64.b64encode, strip=False),
    "b64-nopad": _b64(base64.b64encode, strip=True),
    "b64url": _b64(base64.urlsafe_b64encode, strip=False),
    "b64url-nopad": _b64(base64.urlsafe_b64encode, strip=True),
}

# ``*`` is excluded: the mask is ``***``, so a secret made of stars would reappear in it.
secret_text = st.text(st.characters(codec="utf-8", exclude_characters="*"), min_size=1, max_size=40)
filler = st.text(st.characters(codec="utf-8"), max_size=30)


@given(
    secrets=st.lists(secret_text, min_size=1, max_size=4),
    encoding=st.sampled_from(sorted(ENCODINGS)),
    before=filler,
    after=filler,
)
def test_no_encoded_secret_survives(
    secrets: list[str], encoding: str, before: str, after: str
) -> None:
    encode = ENCODINGS[encoding]
    text = before + " ".join(encode(secret) for secret in secrets) + after
    redacted = Redactor(secrets).redact(text)
    for secret in secrets:
        assert secret not in redacted
        assert encode(secret) not in redacted


@given(secrets=st.lists(secret_text, min_size=1, max_size=3), before=filler, after=filler)
def test_bytes_are_redacted_like_text(secrets: list[str], before: str, after: str) -> None:
    data = (before + "|".join(secrets) + after).encode()
    redacted = Redactor(secrets).redact(data)
    assert isinstance(redacted, bytes)
    for secret in secrets:
        assert secret.encode() not in redacted


@given(
    secret=st.text(
        st.characters(codec="utf-8", exclude_characters="*"), min_size=6, max_size=30
    ).map(str.encode),
    before=st.binary(max_size=8),
    after=st.binary(max_size=8),
    urlsafe=st.booleans(),
)
def test_base64_of_a_secret_embedded_at_any_alignment_is_masked(
    secret: bytes, before: bytes, after: bytes, urlsafe: bool
) -> None:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    blob = encode(before + secret + after).decode()
    # Base64 characters whose 6 bits all come from the secret's bytes.
    first = (8 * len(before) + 5) // 6
    last = (8 * (len(before) + len(secret))) // 6
    stable = blob[first:last]
    redacted = Redactor([secret.decode()]).redact(blob)
    assert stable not in redacted


def test_overlapping_secrets_leave_no_tail() -> None:
    redactor = Redactor(["abcdef", "defghi"])
    assert redactor.redact("x abcdefghi y") == "x *** y"


def test_multi_line_secret_is_caught_line_by_line() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----"
    redactor = Redactor([SecretValue(key)])
    lines = ["log start\n", *[line + "\n" for line in key.splitlines()], "log end\n"]
    out = "".join(redactor.redact_lines(lines))
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in out
    assert out.startswith("log start\n")
    assert out.endswith("log end\n")


def test_text_without_secrets_is_returned_unchanged_and_empty_redactor_is_a_no_op() -> None:
    text = "nothing to see here"
    assert Redactor(["hunter2"]).redact(text) is text
    assert Redactor([]).redact(text) is text
    assert Redactor([""]).redact(b"abc") == b"abc"
    assert "hunter2" not in repr(Redactor(["hunter2"]))


def test_percent_encoding_in_lower_case_hex_is_caught() -> None:
    assert Redactor(["a/b c"]).redact("x=a%2fb%20c") == "x=***"


def test_a_json_document_holding_a_secret_is_redacted() -> None:
    secret = 'pa"ss\\word\n\u00e9'
    document = json.dumps({"password": secret, "note": "ok"})
    redacted = Redactor([secret]).redact(document)
    assert json.loads(redacted) == {"password": "***", "note": "ok"}


def test_a_secret_with_a_lone_surrogate_is_still_redacted() -> None:
    redactor = Redactor(["ab\ud800cd"])
    assert redactor.redact("x ab\ud800cd y") == "x *** y"
