"""Go's ``fmt`` renderings of values, as they appear in the API server's error messages.

The server words a field error as ``<field>: Invalid value: <value>: <detail>``, where the
value is printed by Go: strings quoted (``%q``), numbers with ``%v``, and structs, maps and
slices with ``%#v`` (``v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, ...}``).
These helpers reproduce that for JSON values and for the few typed values whose exact
rendering users meet (label selectors, role references, string lists). Large structs (a pod
template) are rendered in the same style but abbreviated: the real dump names every Go field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def go_quote(text: str) -> str:
    """A string as Go's ``%q`` (``strconv.Quote``) prints it."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def go_float(value: float) -> str:
    """``%v`` of a float64: the shortest digits, exponent form from 1e+06 or below 1e-04."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(str(d) for d in digits)
    point = len(text) + int(exponent)
    minus = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        exp = point - 1
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


def go_value(value: Any) -> str:
    """How ``field.Error`` prints a bad value taken from a JSON document."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return go_syntax(value)


def go_syntax(value: Any) -> str:
    """``%#v`` of a decoded JSON value (``map[string]interface {}{...}`` and so on)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, Mapping):
        body = ", ".join(f"{go_quote(str(k))}:{go_syntax(value[k])}" for k in sorted(value))
        return f"map[string]interface {{}}{{{body}}}"
    if isinstance(value, Sequence):
        return f"[]interface {{}}{{{', '.join(go_syntax(v) for v in value)}}}"
    return str(value)


def string_map(value: Any, type_name: str = "map[string]string") -> str:
    """``%#v`` of a ``map[string]string`` (nil when absent)."""
    if value is None:
        return f"{type_name}(nil)"
    body = ", ".join(f"{go_quote(str(k))}:{go_quote(str(value[k]))}" for k in sorted(value))
    return f"{type_name}{{{body}}}"


def string_list(value: Any, type_name: str = "[]string") -> str:
    """``%#v`` of a ``[]string`` (or a slice of a named string type)."""
    if value is None:
        return f"{type_name}(nil)"
    return f"{type_name}{{{', '.join(go_quote(str(v)) for v in value)}}}"


def label_selector(selector: Any) -> str:
    """``%#v`` of a ``metav1.LabelSelector`` from its JSON form."""
    if not isinstance(selector, Mapping):
        return '"null"'
    expressions = selector.get("matchExpressions")
    if expressions is None:
        rendered = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = ", ".join(
            "v1.LabelSelectorRequirement{"
            f"Key:{go_quote(str(e.get('key', '')))}, "
            f"Operator:{go_quote(str(e.get('operator', '')))}, "
            f"Values:{string_list(e.get('values'))}}}"
            for e in expressions
        )
        rendered = f"[]v1.LabelSelectorRequirement{{{items}}}"
    labels = string_map(selector.get("matchLabels"))
    return f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{rendered}}}"


def go_struct(type_name: str, value: Any) -> str:
    """An abbreviated ``%#v`` of a struct from its JSON form: Go field names (the JSON
    name capitalized) and nested values in the same style."""
    if not isinstance(value, Mapping):
        return go_value(value)
    return type_name + _fields(value)


def _fields(value: Mapping[str, Any]) -> str:
    parts = []
    for key, item in value.items():
        name = key[:1].upper() + key[1:]
        if isinstance(item, Mapping):
            parts.append(f"{name}:{_fields(item)}")
        elif isinstance(item, list):
            rendered = ", ".join(
                _fields(i) if isinstance(i, Mapping) else go_syntax(i) for i in item
            )
            parts.append(f"{name}:{{{rendered}}}")
        else:
            parts.append(f"{name}:{go_syntax(item)}")
    return "{" + ", ".join(parts) + "}"
