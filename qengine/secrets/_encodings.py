"""The encoded forms of a secret value that redaction looks for.

The list is built from what the engine's tools print. Each form is a sequence of *elements*:
a literal character, or one of three flexible elements that stand for what a tool may print
in its place (see :mod:`qengine.secrets._trie` for how they become a pattern):

- Python: ``repr`` and ``ascii`` of the string (so also exceptions that embed a value, such as
  ``int(v)``, ``float(v)`` or ``{}[v]``, whose messages carry its ``repr``), with ``'``
  escaped or not (the quote depends on the whole string), and ``repr`` of its UTF-8 bytes;
- JSON as Python writes it (ASCII-only and not), as Go writes it (``\\u003c``, ``\\u003e``,
  ``\\u0026``, ``\\u2028``; ``\\b``/``\\f`` or ``\\u0008``/``\\u000c``: Terraform, kubectl,
  Helm), with ``\\/`` escaped, and with upper-case ``\\u`` hex;
- YAML: single-quoted (``''``) and double-quoted (libyaml/PyYAML escapes: ``\\xE9``,
  ``\\u200B``, ``\\N``, ``\\_``, ...), and a value folded over lines at a space (plain and
  quoted styles, including the ``\\`` continuation of double-quoted lines): every space of
  every form may be a line break followed by indentation;
- HTML: ``&lt; &gt; &amp;`` with ``&quot;``/``&#34;`` and ``&#x27;``/``&#39;``, and Go's
  ``html/template`` ``&#43;`` for ``+``;
- URL encoding with any safe set: each character that is not a letter or a digit may be
  itself or percent-encoded (upper- or lower-case hex), a space also ``+``; this covers
  ``quote``/``quote_plus`` whatever ``safe`` is, Go's ``QueryEscape``/``PathEscape``,
  JavaScript's ``encodeURIComponent`` and ``encodeURI``;
- shell-quoted (``shlex.quote``);
- base64 of the UTF-8 bytes (standard and URL-safe alphabets, with and without padding), and
  the stable middle of its base64 when embedded in a longer base64 text at each of the three
  byte alignments, all of them possibly wrapped over lines at any column (PEM's 64, MIME's
  and ``base64``'s 76), with indentation after each break;
- for a multi-line value, each line of at least ``MIN_LINE`` characters.
"""

from __future__ import annotations

import base64
import html
import json
import shlex
from collections.abc import Callable
from urllib.parse import quote, quote_plus

MIN_CORE = 6
MIN_LINE = 8
FOLD = "\0fold"
WRAP = "\0wrap"
YAML_BREAK = "\0yaml-break"
URL = "\0url:"
_B64 = (base64.b64encode, base64.urlsafe_b64encode)
_URL_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

Form = tuple[str, ...]


def encoded_forms(value: str) -> set[str]:
    """Every literal form of ``value`` (no folding or wrapping), for searching a leak.

    URL encodings are given for the usual safe sets; the redactor covers every safe set.
    """
    if not value:
        return set()
    raw = value.encode("utf-8", "surrogatepass")
    forms = _text_forms(value) | _url_forms(raw) | _base64_forms(raw)
    forms |= {line for line in value.splitlines() if len(line) >= MIN_LINE}
    return forms


def redaction_forms(value: str) -> set[Form]:
    """The element sequences the redactor matches for ``value`` (empty for an empty value)."""
    if not value:
        return set()
    raw = value.encode("utf-8", "surrogatepass")
    forms: set[Form] = {_folding(form) for form in _text_forms(value)}
    forms |= {_folding(line) for line in value.splitlines() if len(line) >= MIN_LINE}
    forms |= _yaml_double_forms(value)
    forms.add(tuple(c if c in _URL_PLAIN else URL + c for c in value))
    forms |= {_wrapping(form) for form in _base64_forms(raw)}
    return forms


def _folding(text: str) -> Form:
    # Only the first space of a run may fold: no two flexible elements in a row.
    return tuple(
        FOLD if c == " " and (i == 0 or text[i - 1] != " ") else c for i, c in enumerate(text)
    )


def _wrapping(text: str) -> Form:
    elements: list[str] = []
    for c in text:
        elements += [c, WRAP]
    return tuple(elements[:-1])


def _text_forms(value: str) -> set[str]:
    forms = {value, shlex.quote(value)}
    forms |= _python_forms(value) | _json_forms(value) | _yaml_forms(value)
    forms |= _html_forms(value)
    return forms


def _python_forms(value: str) -> set[str]:
    # repr picks its quote from the whole string: inside a longer one, ' may be escaped.
    forms = {repr(value)[1:-1], repr(value + "'\"")[1:-4]}
    forms |= {ascii(value)[1:-1], ascii(value + "'\"")[1:-4]}
    raw = value.encode("utf-8", "surrogatepass")
    forms |= {repr(raw)[2:-1], repr(raw + b"'\"")[2:-4]}
    return forms


def _json_forms(value: str) -> set[str]:
    ascii_only = json.dumps(value)[1:-1]
    utf8 = json.dumps(value, ensure_ascii=False)[1:-1]
    forms = {ascii_only, utf8, _upper_u(ascii_only)}
    forms |= {form.replace("/", "\\/") for form in tuple(forms)}
    for go in (_go_json(utf8), _go_json(ascii_only)):
        forms |= {go, go.replace("\\b", "\\u0008").replace("\\f", "\\u000c")}
    return forms


def _go_json(escaped: str) -> str:
    """Go's ``encoding/json`` also escapes ``<``, ``>``, ``&``, U+2028 and U+2029."""
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        escaped = escaped.replace(char, code)
    return escaped.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _upper_u(escaped: str) -> str:
    """``\\u00e9`` -> ``\\u00E9`` (the ``\\\\`` pairs are left alone)."""
    out: list[str] = []
    i = 0
    while i < len(escaped):
        if escaped.startswith("\\u", i):
            out.append("\\u" + escaped[i + 2 : i + 6].upper())
            i += 6
        elif escaped[i] == "\\":
            out.append(escaped[i : i + 2])
            i += 2
        else:
            out.append(escaped[i])
            i += 1
    return "".join(out)


_YAML_ESCAPES = {
    "\0": "0",
    "\x07": "a",
    "\x08": "b",
    "\t": "t",
    "\n": "n",
    "\x0b": "v",
    "\x0c": "f",
    "\r": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\xa0": "_",
    "\u2028": "L",
    "\u2029": "P",
}


def _yaml_forms(value: str) -> set[str]:
    doubles = {"".join(_yaml_double(value, flag)) for flag in (True, False)}
    return {value.replace("'", "''"), *doubles}


def _yaml_double_forms(value: str) -> set[Form]:
    """Double-quoted YAML, where an emitter may also break a line right after an escape."""
    forms: set[Form] = set()
    for flag in (True, False):
        elements: list[str] = []
        for chunk in _yaml_double(value, flag):
            if len(chunk) > 1:
                elements += [*chunk, YAML_BREAK]
            else:
                elements.append(FOLD if chunk == " " else chunk)
        forms.add(tuple(elements[:-1] if elements[-1] == YAML_BREAK else elements))
    return forms


def _yaml_double(value: str, allow_unicode: bool) -> list[str]:
    """The body of a double-quoted YAML scalar, escaped as libyaml and PyYAML do, one chunk
    per character of ``value``."""
    out: list[str] = []
    for c in value:
        if c in _YAML_ESCAPES:
            out.append("\\" + _YAML_ESCAPES[c])
        elif " " <= c <= "~" or (allow_unicode and _yaml_printable(c)):
            out.append(c)
        elif c <= "\xff":
            out.append(f"\\x{ord(c):02X}")
        elif c <= "\uffff":
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(f"\\U{ord(c):08X}")
    return out


def _yaml_printable(c: str) -> bool:
    return (
        "\xa0" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"
    ) and c != "\ufeff"


def _html_forms(value: str) -> set[str]:
    base = html.escape(value, quote=False)
    forms = {base}
    for dq in ("&quot;", "&#34;"):
        for sq in ("&#x27;", "&#39;"):
            quoted = base.replace('"', dq).replace("'", sq)
            forms |= {quoted, quoted.replace("+", "&#43;")}
    return forms


def _url_forms(raw: bytes) -> set[str]:
    forms = {quote(raw, safe=""), quote(raw), quote_plus(raw), quote_plus(raw, safe="")}
    return forms | {_lower_hex(form) for form in forms}


def _lower_hex(form: str) -> str:
    parts = form.split("%")
    return parts[0] + "".join("%" + p[:2].lower() + p[2:] for p in parts[1:])


def _base64_forms(raw: bytes) -> set[str]:
    forms: set[str] = set()
    for encode in _B64:
        whole = encode(raw).decode("ascii")
        forms |= {whole, whole.rstrip("=")}
        forms |= {core for k in range(3) if len(core := _core(encode, raw, k)) >= MIN_CORE}
    return forms


def _core(encode: Callable[[bytes], bytes], raw: bytes, offset: int) -> str:
    """The characters of base64(filler[offset] + raw + anything) that depend on ``raw`` alone.

    Character ``j`` encodes bits ``6j .. 6j+5``; it depends only on ``raw`` when those bits lie
    within ``raw``'s bits ``8*offset .. 8*(offset+len(raw))``.
    """
    encoded = encode(b"\0" * offset + raw).decode("ascii")
    first = (8 * offset + 5) // 6
    last = (8 * (offset + len(raw))) // 6
    return encoded[first:last]
