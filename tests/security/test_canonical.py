"""RFC 8785 canonical JSON: the RFC's examples, properties, and what is refused."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine._errors import InvalidInputError
from qengine.secrets.canonical import MAX_SAFE_INTEGER, canonicalize, format_number


def _from_hex(bits: str) -> float:
    return float(struct.unpack(">d", bytes.fromhex(bits))[0])


# IEEE-754 bit patterns and their ECMAScript serialization (RFC 8785, appendix B).
NUMBER_VECTORS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("41b3de4355555555", "333333333.3333333"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
]


@pytest.mark.parametrize(("bits", "expected"), NUMBER_VECTORS, ids=[v[1] for v in NUMBER_VECTORS])
def test_number_serialization_matches_ecmascript(bits: str, expected: str) -> None:
    assert format_number(_from_hex(bits)) == expected


def test_rfc_example_values() -> None:
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(value) == expected.encode()


def test_keys_sort_by_utf16_code_units() -> None:
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    text = canonicalize(dict.fromkeys(keys, 0)).decode()
    assert list(json.loads(text)) == [
        "\r",
        "1",
        "\u0080",
        "\u00f6",
        "\u20ac",
        "\U0001f600",
        "\ufb33",
    ]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(math.nan, id="nan"),
        pytest.param(math.inf, id="inf"),
        pytest.param(MAX_SAFE_INTEGER + 1, id="big-int"),
        pytest.param(-(10**400), id="huge-int"),
        pytest.param("\ud800", id="lone-surrogate"),
        pytest.param({1: "x"}, id="int-key"),
        pytest.param({"a": {1, 2}}, id="set"),
        pytest.param(b"bytes", id="bytes"),
    ],
)
def test_refused_values(value: Any) -> None:
    with pytest.raises(InvalidInputError):
        canonicalize(value)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _ecmascript_int(text: str) -> int | float:
    # An ECMAScript reader holds every number as a double: a float of 2**53 or more is
    # written in integer form and must be read back as a float, not a Python int.
    number = int(text)
    return number if abs(number) <= MAX_SAFE_INTEGER else float(text)


@given(json_values)
def test_round_trip_and_idempotence(value: Any) -> None:
    first = canonicalize(value)
    parsed = json.loads(first, parse_int=_ecmascript_int)
    assert parsed == value
    assert canonicalize(parsed) == first


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_key_order_does_not_matter(value: dict[str, Any]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonicalize(reordered) == canonicalize(value)


bmp_text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]))
int_json = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | bmp_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(bmp_text, inner, max_size=4),
    max_leaves=20,
)


@given(int_json)
def test_agrees_with_python_json_where_the_two_rules_coincide(value: Any) -> None:
    # Without floats and with BMP keys only, RFC 8785 and Python's compact sorted json.dumps
    # (ensure_ascii off) escape and order identically: an independent oracle.
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonicalize(value) == expected.encode()
