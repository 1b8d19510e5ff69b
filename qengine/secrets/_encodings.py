"""The encoded forms of a secret value that redaction looks for.

Covered: the raw value; JSON-escaped (ASCII-only and not); URL-encoded (``quote`` with and
without ``/`` safe, ``quote_plus``, upper- and lower-case hex); shell-quoted (``shlex.quote``);
base64 of its UTF-8 bytes (standard and URL-safe alphabets, with and without padding); the
stable middle of its base64 when embedded in a longer base64 text at each of the three byte
alignments; and, for a multi-line value, each line of at least ``MIN_LINE`` characters (so a
line-by-line stream is still covered).
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Callable
from urllib.parse import quote, quote_plus

MIN_CORE = 6
MIN_LINE = 8
_HEX = re.compile(r"%[0-9A-F]{2}")
_B64 = (base64.b64encode, base64.urlsafe_b64encode)


def encoded_forms(value: str) -> set[str]:
    """Every form of ``value`` listed in the module docstring (empty for an empty value)."""
    if not value:
        return set()
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms |= _url_forms(value)
    forms.add(shlex.quote(value))
    forms |= _base64_forms(value.encode("utf-8", "surrogatepass"))
    forms |= {line for line in value.splitlines() if len(line) >= MIN_LINE}
    return forms


def _url_forms(value: str) -> set[str]:
    # surrogatepass: a lone surrogate must neither crash nor appear in an error message.
    raw = value.encode("utf-8", "surrogatepass")
    forms = {quote(raw, safe=""), quote(raw), quote_plus(raw), quote_plus(raw, safe="")}
    return forms | {_HEX.sub(lambda m: m.group(0).lower(), form) for form in forms}


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
