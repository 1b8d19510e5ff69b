"""Canonical JSON per RFC 8785 (JSON Canonicalization Scheme), the form a job is signed in.

What is supported, exactly as RFC 8785 specifies:

- object members sorted by the UTF-16 code units of their names; no whitespace;
- strings escaped as ECMAScript ``JSON.stringify`` does: ``\\"``, ``\\\\``, ``\\b \\t \\n \\f
  \\r``, other controls below U+0020 as ``\\u00xx`` (lower-case hex), everything else as
  literal UTF-8;
- numbers serialized as ECMAScript ``Number.prototype.toString`` does (shortest round-trip
  digits; ``1e+21`` / ``1e-7`` exponent forms; ``-0`` as ``0``); Python's ``repr`` supplies
  the shortest digits.

What is refused (:class:`~qengine.InvalidInputError`): NaN and infinities; integers outside
the safe range +-(2**53 - 1) (distinct integers there share one double, so two jobs could
share a canonical form); floats of any magnitude are fine;
strings with lone surrogates; non-string object keys; values that are not JSON types.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from qengine._errors import InvalidInputError

MAX_SAFE_INTEGER = 2**53 - 1
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (see the module docstring)."""
    parts: list[str] = []
    _emit(value, parts, "$")
    return "".join(parts).encode("utf-8")


def _emit(value: Any, out: list[str], path: str) -> None:
    if value is None or isinstance(value, bool):
        out.append({None: "null", True: "true", False: "false"}[value])
    elif isinstance(value, int):
        out.append(_integer(value, path))
    elif isinstance(value, float):
        out.append(format_number(value, path))
    elif isinstance(value, str):
        out.append(_string(value, path))
    elif isinstance(value, Mapping):
        _emit_object(value, out, path)
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _emit(item, out, f"{path}[{index}]")
        out.append("]")
    else:
        raise InvalidInputError(f"{path}: {type(value).__name__} is not a JSON value")


def _emit_object(value: Mapping[Any, Any], out: list[str], path: str) -> None:
    for key in value:
        if not isinstance(key, str):
            raise InvalidInputError(f"{path}: object keys must be strings")
    out.append("{")
    for index, key in enumerate(sorted(value, key=_utf16_key)):
        if index:
            out.append(",")
        out.append(_string(key, path))
        out.append(":")
        _emit(value[key], out, f"{path}.{key}")
    out.append("}")


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _integer(value: int, path: str) -> str:
    # Beyond 2**53 distinct integers share one double, so two different jobs could share one
    # canonical form (and one signature): refuse rather than round.
    if abs(value) > MAX_SAFE_INTEGER:
        raise InvalidInputError(
            f"{path}: integer {value} is outside +-(2**53 - 1)",
            hint="Write large numbers as strings; canonical JSON (RFC 8785) cannot hold them.",
        )
    return str(value)


def _string(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{path}: string holds a lone surrogate") from exc
    chars = [_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if c < " " else c) for c in value]
    return '"' + "".join(chars) + '"'


def format_number(value: float, path: str = "$") -> str:
    """ECMAScript ``Number.prototype.toString`` of a finite float."""
    if not math.isfinite(value):
        raise InvalidInputError(f"{path}: NaN and infinities are not JSON")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits, exponent = _shortest_digits(abs(value))
    return sign + _layout(digits, exponent)


def _shortest_digits(value: float) -> tuple[str, int]:
    """``(digits, n)`` with value = 0.digits * 10**n and no trailing zero digits."""
    mantissa, _, exp_text = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    exponent = int(exp_text or 0) + len(whole)
    digits = (whole + fraction).lstrip("0")
    exponent -= len(whole + fraction) - len((whole + fraction).lstrip("0"))
    return digits.rstrip("0"), exponent


def _layout(digits: str, n: int) -> str:
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    exponent = n - 1
    sign = "+" if exponent >= 0 else "-"
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{sign}{abs(exponent)}"
