"""Canonical JSON per RFC 8785 (JSON Canonicalization Scheme), the form a job is signed in.

The serialization is the ``rfc8785`` package's (Trail of Bits): members sorted by the UTF-16
code units of their names, no whitespace, strings escaped and numbers written as ECMAScript's
``JSON.stringify`` does. This module maps its errors to the engine's and imports it only when
something is canonicalized.

What is refused (:class:`~qengine.InvalidInputError`): NaN and infinities; integers outside
the safe range +-(2**53 - 1) (distinct integers there share one double, so two jobs could
share a canonical form); floats of any magnitude are fine; strings with lone surrogates;
non-string object keys; values that are not JSON types (dicts, lists, tuples, strings,
numbers, booleans and ``None``).
"""

from __future__ import annotations

from typing import Any

from qengine._errors import InvalidInputError

MAX_SAFE_INTEGER = 2**53 - 1


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (see the module docstring)."""
    import rfc8785

    try:
        return rfc8785.dumps(value)
    except rfc8785.IntegerDomainError:
        raise InvalidInputError(
            "an integer is outside +-(2**53 - 1)",
            hint="Write large numbers as strings; canonical JSON (RFC 8785) cannot hold them.",
        ) from None
    except rfc8785.FloatDomainError:
        raise InvalidInputError("NaN and infinities are not JSON") from None
    except rfc8785.CanonicalizationError as exc:
        # The library's messages name a type or a rule, never the value itself.
        raise InvalidInputError(f"not canonical JSON: {exc}") from None


def format_number(value: float) -> str:
    """ECMAScript ``Number.prototype.toString`` of a finite float."""
    return canonicalize(float(value)).decode("ascii")
