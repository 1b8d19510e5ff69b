"""Structural schemas of CustomResourceDefinitions: pruning, defaulting and validation.

A CRD version's ``openAPIV3Schema`` is compiled once into a tree of :class:`Schema` nodes (the
simulator caches the tree per CRD version). The algorithms follow the API server's
(``k8s.io/apiextensions-apiserver/pkg/apiserver/schema`` and kube-openapi's validator):

* :func:`prune` drops the fields the schema does not declare and returns their paths, sorted
  (``x-kubernetes-preserve-unknown-fields`` keeps them; ``apiVersion``, ``kind`` and
  ``metadata`` are kept at the root and in ``x-kubernetes-embedded-resource`` objects);
* :func:`prune_nulls` drops ``null`` values of non-nullable fields that have no default;
* :func:`apply_defaults` fills in the ``default`` of absent (or null, non-nullable) fields;
* :func:`validate` checks values (types, ``x-kubernetes-int-or-string``, ``required``,
  ``enum``, bounds, lengths, ``pattern``, a few ``format``\\ s, item and property counts,
  ``allOf``/``anyOf``/``oneOf``/``not``, list types, embedded resources) and returns
  :class:`Failure` records; :func:`causes` words them as the real server's ``details.causes``;
* :func:`undeclared` lists what a server-side apply configuration sets outside the schema
  (the apply path refuses those, as the real server's typed conversion does).

CEL rules (``x-kubernetes-validations``) are not evaluated.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from qengine.testing.kube.documents import clone
from qengine.testing.kube.gofmt import go_float, go_quote, go_value

JSON = dict[str, Any]
Cause = tuple[str, str, str]

META_FIELDS = frozenset(("apiVersion", "kind", "metadata"))


class Schema:
    """One compiled node of a structural schema (see the module docstring)."""

    __slots__ = (
        "additional",
        "additional_any",
        "all_of",
        "any_of",
        "default",
        "embedded",
        "enum",
        "exclusive_maximum",
        "exclusive_minimum",
        "format",
        "has_default",
        "items",
        "list_map_keys",
        "list_type",
        "max_items",
        "max_length",
        "max_properties",
        "maximum",
        "min_items",
        "min_length",
        "min_properties",
        "minimum",
        "multiple_of",
        "not_",
        "nullable",
        "one_of",
        "pattern",
        "preserve",
        "properties",
        "required",
        "types",
        "unique",
    )

    def __init__(self, raw: Mapping[str, Any]) -> None:
        kind = raw.get("type")
        if raw.get("x-kubernetes-int-or-string"):
            self.types: tuple[str, ...] = ("integer", "string")
        else:
            self.types = (str(kind),) if kind else ()
        self.nullable = bool(raw.get("nullable"))
        self.preserve = bool(raw.get("x-kubernetes-preserve-unknown-fields"))
        self.embedded = bool(raw.get("x-kubernetes-embedded-resource"))
        props = raw.get("properties")
        self.properties: dict[str, Schema] = (
            {str(k): Schema(v) for k, v in props.items() if isinstance(v, Mapping)}
            if isinstance(props, Mapping)
            else {}
        )
        items = raw.get("items")
        self.items = Schema(items) if isinstance(items, Mapping) else None
        extra = raw.get("additionalProperties")
        self.additional = Schema(extra) if isinstance(extra, Mapping) else None
        self.additional_any = extra is True
        self.required = tuple(str(r) for r in raw.get("required") or ())
        enum = raw.get("enum")
        self.enum: tuple[Any, ...] = tuple(enum) if isinstance(enum, list) else ()
        self.minimum = _number(raw.get("minimum"))
        self.maximum = _number(raw.get("maximum"))
        self.exclusive_minimum = bool(raw.get("exclusiveMinimum"))
        self.exclusive_maximum = bool(raw.get("exclusiveMaximum"))
        self.multiple_of = _number(raw.get("multipleOf"))
        self.min_length = _count(raw.get("minLength"))
        self.max_length = _count(raw.get("maxLength"))
        self.min_items = _count(raw.get("minItems"))
        self.max_items = _count(raw.get("maxItems"))
        self.min_properties = _count(raw.get("minProperties"))
        self.max_properties = _count(raw.get("maxProperties"))
        self.unique = bool(raw.get("uniqueItems"))
        self.pattern = str(raw["pattern"]) if raw.get("pattern") else ""
        self.format = str(raw.get("format") or "")
        self.has_default = raw.get("default") is not None
        self.default = raw.get("default")
        self.list_type = str(raw.get("x-kubernetes-list-type") or "")
        self.list_map_keys = tuple(str(k) for k in raw.get("x-kubernetes-list-map-keys") or ())
        self.all_of = _schemas(raw.get("allOf"))
        self.any_of = _schemas(raw.get("anyOf"))
        self.one_of = _schemas(raw.get("oneOf"))
        negated = raw.get("not")
        self.not_ = Schema(negated) if isinstance(negated, Mapping) else None

    def child(self, key: str) -> Schema | None:
        """The schema of field ``key`` of an object of this schema (None: undeclared)."""
        return self.properties.get(key) or self.additional


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _schemas(raw: Any) -> tuple[Schema, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(Schema(s) for s in raw if isinstance(s, Mapping))


def compile_schema(raw: Mapping[str, Any] | None) -> Schema | None:
    """The compiled tree of an ``openAPIV3Schema`` (None when there is no schema)."""
    return Schema(raw) if isinstance(raw, Mapping) else None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- pruning -----------------------------------------------------------------------------


def prune(obj: JSON, schema: Schema | None) -> list[str]:
    """Drop the fields of the resource ``obj`` that ``schema`` does not declare, in place.

    The root keeps ``apiVersion``, ``kind`` and ``metadata``. Returns the dropped paths
    (``spec.foo``, ``spec.items[0].bar``), sorted, as the server reports unknown fields.
    """
    unknown: list[str] = []
    _prune(obj, schema, "", unknown, root=True)
    unknown.sort()
    return unknown


def _prune(x: Any, s: Schema | None, path: str, unknown: list[str], *, root: bool = False) -> None:
    if s is not None and s.preserve:
        _skip_prune(x, s, path, unknown, root=root)
        return
    if isinstance(x, dict):
        if s is None:
            unknown.extend(_join(path, k) for k in x)
            x.clear()
            return
        embedded = s.embedded or root
        for key in list(x):
            if embedded and key in META_FIELDS:
                continue
            prop = s.properties.get(key)
            if prop is not None:
                _prune(x[key], prop, _join(path, key), unknown)
            elif s.additional is not None or s.additional_any:
                _prune(x[key], s.additional, _join(path, key), unknown)
            else:
                if key not in META_FIELDS or path:
                    unknown.append(_join(path, key))
                del x[key]
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for index, value in enumerate(x):
            _prune(value, items, f"{path}[{index}]", unknown)


def _skip_prune(x: Any, s: Schema | None, path: str, unknown: list[str], *, root: bool) -> None:
    if s is None:
        return
    if isinstance(x, dict):
        embedded = s.embedded or root
        for key, value in x.items():
            if embedded and key in META_FIELDS:
                continue
            prop = s.properties.get(key)
            if prop is not None:
                _prune(value, prop, _join(path, key), unknown)
            elif s.additional is not None or s.additional_any:
                _prune(value, s.additional, _join(path, key), unknown)
    elif isinstance(x, list):
        for index, value in enumerate(x):
            _skip_prune(value, s.items, f"{path}[{index}]", unknown, root=False)


def prune_nulls(x: Any, s: Schema | None) -> None:
    """Drop ``null`` values of non-nullable fields that have no default, in place."""
    if isinstance(x, dict):
        for key in list(x):
            sub = s.child(key) if s is not None else None
            value = x[key]
            if value is None and sub is not None and not sub.nullable and not sub.has_default:
                del x[key]
            else:
                prune_nulls(value, sub)
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for value in x:
            prune_nulls(value, items)


# -- defaulting --------------------------------------------------------------------------


def apply_defaults(x: Any, s: Schema | None) -> None:
    """Set the schema's defaults on ``x`` in place (absent fields, non-nullable nulls)."""
    if s is None:
        return
    if isinstance(x, dict):
        for key, prop in s.properties.items():
            if prop.has_default and (key not in x or (x[key] is None and not prop.nullable)):
                x[key] = clone(prop.default)
        for key in x:
            declared = s.properties.get(key)
            if declared is not None:
                apply_defaults(x[key], declared)
            elif s.additional is not None:
                if x[key] is None and not s.additional.nullable:
                    x[key] = clone(s.additional.default)
                apply_defaults(x[key], s.additional)
    elif isinstance(x, list) and s.items is not None:
        for index, value in enumerate(x):
            if value is None and not s.items.nullable:
                x[index] = clone(s.items.default)
            apply_defaults(x[index], s.items)


# -- validation --------------------------------------------------------------------------


class Failure(NamedTuple):
    """One validation failure, as kube-openapi reports it before the server words it."""

    kind: str  # required, enum, type, too_long, too_many, invalid, composite, duplicate
    name: str  # kube-openapi's path of the value ("spec.size"), or a field path
    value: Any
    message: str = ""
    allowed: tuple[Any, ...] = ()
    limit: int = 0


def validate(obj: Any, schema: Schema | None) -> list[Failure]:
    """Every failure of ``obj`` against ``schema``, in schema order."""
    if schema is None:
        return []
    found: list[Failure] = []
    _validate(obj, schema, "", found)
    _structure(obj, schema, "", found)
    return found


def _json_type(x: Any) -> str:
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, str):
        return "string"
    if isinstance(x, int):
        return "integer"
    if isinstance(x, float):
        return "number"
    if isinstance(x, list):
        return "array"
    if isinstance(x, dict):
        return "object"
    return "null"


def _validate(x: Any, s: Schema, path: str, found: list[Failure]) -> None:
    if x is None:
        _check_type(x, s, path, found)
        _check_enum(x, s, path, found)
        return
    _check_type(x, s, path, found)
    if s.all_of or s.any_of or s.one_of or s.not_ is not None:
        _check_junctions(x, s, path, found)
    if isinstance(x, str):
        _check_string(x, s, path, found)
        _check_format(x, s, path, found)
    elif isinstance(x, int | float) and not isinstance(x, bool):
        _check_number(x, s, path, found)
    elif isinstance(x, list):
        _check_list(x, s, path, found)
    _check_enum(x, s, path, found)
    if isinstance(x, dict):
        _check_object(x, s, path, found)


def _check_type(x: Any, s: Schema, path: str, found: list[Failure]) -> None:
    if not s.types:
        return
    wanted = ",".join(s.types)
    actual = _json_type(x)
    if x is None:
        if "null" not in s.types and not s.nullable:
            found.append(Failure("type", path, "null", _type_message(path, wanted, "null")))
        return
    if actual in ("string", "array") and s.format and not {"integer", "number"} & set(s.types):
        return  # kube-openapi skips the type check of formatted strings and lists
    float_int = actual == "number" and float(x).is_integer() and "integer" in s.types
    int_float = actual == "integer" and "number" in s.types
    if not (actual in s.types or float_int or int_float):
        found.append(Failure("type", path, actual, _type_message(path, wanted, actual)))


def _type_message(path: str, wanted: str, actual: str) -> str:
    return f"{path} in body must be of type {wanted}: {go_quote(actual)}"


def _check_string(x: str, s: Schema, path: str, found: list[Failure]) -> None:
    if s.max_length is not None and len(x) > s.max_length:
        message = f"{path} in body should be at most {s.max_length} chars long"
        found.append(Failure("too_long", path, x, message, limit=s.max_length))
        return
    if s.min_length is not None and len(x) < s.min_length:
        message = f"{path} in body should be at least {s.min_length} chars long"
        found.append(Failure("invalid", path, x, message))
        return
    if s.pattern:
        compiled = _regex(s.pattern)
        if isinstance(compiled, str):
            message = (
                f"{path} in body should match '{s.pattern}, but pattern is invalid: {compiled}'"
            )
            found.append(Failure("invalid", path, x, message))
        elif not compiled.search(x):
            message = f"{path} in body should match '{s.pattern}'"
            found.append(Failure("invalid", path, x, message))


_REGEX_CACHE: dict[str, re.Pattern[str] | str] = {}


def _regex(pattern: str) -> re.Pattern[str] | str:
    """The compiled pattern, or the compile error's text (cached either way)."""
    cached = _REGEX_CACHE.get(pattern)
    if cached is None:
        try:
            cached = re.compile(pattern)
        except re.error as exc:
            cached = str(exc)
        _REGEX_CACHE[pattern] = cached
    return cached


def _valid_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return "T" in text.upper() or " " in text


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _valid_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def _valid_ip(version: int) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            return ipaddress.ip_address(text).version == version
        except ValueError:
            return False

    return check


def _valid_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return "/" in text


def _valid_byte(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True


_HOSTNAME = re.compile(
    r"^([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$"
)
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _valid_datetime,
    "datetime": _valid_datetime,
    "date": _valid_date,
    "uuid": _valid_uuid,
    "ipv4": _valid_ip(4),
    "ipv6": _valid_ip(6),
    "cidr": _valid_cidr,
    "byte": _valid_byte,
    "hostname": lambda t: len(t) <= 255 and bool(_HOSTNAME.match(t)),
    "mac": lambda t: bool(_MAC.match(t)),
}


def _check_format(x: str, s: Schema, path: str, found: list[Failure]) -> None:
    check = _FORMATS.get(s.format)
    if check is not None and not check(x):
        message = f"{path} in body must be of type {s.format}: {go_quote(x)}"
        found.append(Failure("type", path, x, message))


def _check_number(x: float, s: Schema, path: str, found: list[Failure]) -> None:
    is_int = isinstance(x, int)
    if s.multiple_of is not None and s.multiple_of > 0:
        factor: float = int(s.multiple_of) if is_int else s.multiple_of
        if factor and not _is_multiple(x, factor):
            shown = str(factor) if is_int else go_float(float(factor))
            found.append(
                Failure("invalid", path, x, f"{path} in body should be a multiple of {shown}")
            )
    if s.minimum is not None:
        bound: float = int(s.minimum) if is_int else s.minimum
        if x < bound or (s.exclusive_minimum and x <= bound):
            relation = "greater than" if s.exclusive_minimum else "greater than or equal to"
            message = f"{path} in body should be {relation} {_bound(bound, is_int)}"
            found.append(Failure("invalid", path, x, message))
    if s.maximum is not None:
        bound = int(s.maximum) if is_int else s.maximum
        if x > bound or (s.exclusive_maximum and x >= bound):
            relation = "less than" if s.exclusive_maximum else "less than or equal to"
            message = f"{path} in body should be {relation} {_bound(bound, is_int)}"
            found.append(Failure("invalid", path, x, message))


def _bound(bound: float, is_int: bool) -> str:
    return str(int(bound)) if is_int else go_float(float(bound))


def _is_multiple(x: float, factor: float) -> bool:
    if isinstance(x, int) and isinstance(factor, int):
        return x % factor == 0
    ratio = (1 / factor * x) if factor < 1 else (x / factor)
    return abs(ratio - round(ratio)) < 1e-9


def _check_list(x: list[Any], s: Schema, path: str, found: list[Failure]) -> None:
    if s.items is not None:
        for index, value in enumerate(x):
            _validate(value, s.items, f"{path}[{index}]", found)
    size = len(x)
    if s.min_items is not None and size < s.min_items:
        message = f"{path} in body should have at least {s.min_items} items"
        found.append(Failure("invalid", path, size, message))
    if s.max_items is not None and size > s.max_items:
        message = f"{path} in body should have at most {s.max_items} items"
        found.append(Failure("too_many", path, size, message, limit=s.max_items))
    if s.unique:
        seen: list[Any] = []
        for value in x:
            if any(_same(value, other) for other in seen):
                found.append(
                    Failure("invalid", path, "", f"{path} in body shouldn't contain duplicates")
                )
                break
            seen.append(value)


def _same(a: Any, b: Any) -> bool:
    """JSON equality where booleans are never numbers (as Go compares them)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _check_enum(x: Any, s: Schema, path: str, found: list[Failure]) -> None:
    if not s.enum:
        return
    if x is not None and any(_same(x, allowed) for allowed in s.enum):
        return
    found.append(Failure("enum", path, x, allowed=s.enum))


def _check_object(x: JSON, s: Schema, path: str, found: list[Failure]) -> None:
    size = len(x)
    if s.min_properties is not None and size < s.min_properties:
        message = f"{path} in body should have at least {s.min_properties} properties"
        found.append(Failure("invalid", path, size, message))
    if s.max_properties is not None and size > s.max_properties:
        message = f"{path} in body should have at most {s.max_properties} properties"
        found.append(Failure("too_many", path, size, message, limit=s.max_properties))
    if s.additional is not None:
        for key, value in x.items():
            if key not in s.properties:
                _validate(value, s.additional, f"{path}.{key}", found)
    for key, prop in s.properties.items():
        if key in x:
            _validate(x[key], prop, _join(path, key), found)
    for key in s.required:
        if key not in x:
            found.append(Failure("required", f"{path}.{key}", None))


def _check_junctions(x: Any, s: Schema, path: str, found: list[Failure]) -> None:
    if s.any_of:
        results = [_sub(x, sub, path) for sub in s.any_of]
        if not any(not r for r in results):
            found.append(
                Failure(
                    "composite",
                    path,
                    "",
                    f"{go_quote(path)} must validate at least one schema (anyOf)",
                )
            )
            found.extend(_fewest(results))
    if s.one_of:
        results = [_sub(x, sub, path) for sub in s.one_of]
        valid = sum(1 for r in results if not r)
        if valid != 1:
            detail = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            message = f"{go_quote(path)} must validate one and only one schema (oneOf). {detail}"
            found.append(Failure("composite", path, "", message))
            if valid == 0:
                found.extend(_fewest(results))
    if s.all_of:
        results = [_sub(x, sub, path) for sub in s.all_of]
        for result in results:
            found.extend(result)
        valid = sum(1 for r in results if not r)
        if valid != len(results):
            none = ". None validated" if valid == 0 else ""
            message = f"{go_quote(path)} must validate all the schemas (allOf){none}"
            found.append(Failure("composite", path, "", message))
    if s.not_ is not None and not _sub(x, s.not_, path):
        message = f"{go_quote(path)} must not validate the schema (not)"
        found.append(Failure("composite", path, "", message))


def _fewest(results: list[list[Failure]]) -> list[Failure]:
    """The failures of the alternative that came closest to passing."""
    return min(results, key=lambda r: len(r))


def _sub(x: Any, s: Schema, path: str) -> list[Failure]:
    found: list[Failure] = []
    _validate(x, s, path, found)
    return found


# -- list types and embedded resources (field paths) -------------------------------------


def _structure(x: Any, s: Schema | None, path: str, found: list[Failure]) -> None:
    """List-type sets and maps without duplicates; embedded resources with apiVersion and
    kind. Paths here are field paths (``spec.items[0]``, ``spec.map[key]``)."""
    if s is None:
        return
    if isinstance(x, dict):
        if s.embedded and path:
            _embedded(x, path, found)
        for key, value in x.items():
            prop = s.properties.get(key)
            if prop is not None:
                _structure(value, prop, _join(path, key), found)
            elif s.additional is not None:
                _structure(value, s.additional, f"{path}[{key}]", found)
    elif isinstance(x, list):
        if s.list_type == "set":
            for index in _duplicates(x):
                found.append(Failure("duplicate", f"{path}[{index}]", x[index]))
        elif s.list_type == "map" and s.list_map_keys:
            keys = [
                {k: item[k] for k in s.list_map_keys if k in item} if isinstance(item, dict) else {}
                for item in x
            ]
            for index in _duplicates(keys):
                found.append(Failure("duplicate", f"{path}[{index}]", keys[index]))
        for index, value in enumerate(x):
            _structure(value, s.items, f"{path}[{index}]", found)


def _duplicates(values: list[Any]) -> list[int]:
    seen: dict[str, int] = {}
    found = []
    for index, value in enumerate(values):
        key = json.dumps(value, sort_keys=True) + type(value).__name__
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            found.append(index)
    return found


def _embedded(x: JSON, path: str, found: list[Failure]) -> None:
    for key in ("apiVersion", "kind"):
        value = x.get(key)
        if key not in x:
            found.append(Failure("required", f"{path}.{key}", None, "must not be empty"))
        elif not isinstance(value, str):
            found.append(Failure("invalid", f"{path}.{key}", value, "must be a string"))
        elif not value:
            found.append(Failure("invalid", f"{path}.{key}", value, "must not be empty"))


# -- wording -----------------------------------------------------------------------------


def causes(failures: list[Failure], prefix: str = "") -> list[Cause]:
    """``details.causes`` entries (reason, field, message) for ``failures``, deduplicated,
    worded as the real server words them; ``prefix`` is prepended to field paths."""
    result: list[Cause] = []
    for failure in failures:
        cause = _cause(failure, prefix)
        if cause not in result:
            result.append(cause)
    return result


def _field(name: str, prefix: str) -> str:
    name = name[1:] if name.startswith(".") else name
    if not name:
        return prefix or "<nil>"
    return f"{prefix}.{name}" if prefix else name


def _cause(f: Failure, prefix: str) -> Cause:
    where = _field(f.name, prefix)
    if f.kind == "required":
        detail = f": {f.message}" if f.message else ""
        return ("FieldValueRequired", where, f"Required value{detail}")
    if f.kind == "enum":
        supported = ", ".join(
            json.dumps(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
            for v in f.allowed
        )
        return (
            "FieldValueNotSupported",
            where,
            f"Unsupported value: {go_value(f.value)}: supported values: {supported}",
        )
    if f.kind == "type":
        return ("FieldValueTypeInvalid", where, f"Invalid value: {go_value(f.value)}: {f.message}")
    if f.kind == "too_long":
        return ("FieldValueTooLong", where, f"Too long: may not be longer than {f.limit}")
    if f.kind == "too_many":
        return (
            "FieldValueTooMany",
            where,
            f"Too many: {f.value}: must have at most {f.limit} items",
        )
    if f.kind == "duplicate":
        return ("FieldValueDuplicate", where, f"Duplicate value: {go_value(f.value)}")
    if f.kind == "composite":
        return ("FieldValueInvalid", prefix or "<nil>", f'Invalid value: "": {f.message}')
    return ("FieldValueInvalid", where, f"Invalid value: {go_value(f.value)}: {f.message}")


# -- server-side apply -------------------------------------------------------------------


def undeclared(config: JSON, schema: Schema | None) -> list[str]:
    """Paths (``.spec.foo``, ``.spec.list[name="a"].bar``) that an apply configuration sets
    outside the schema; the real server refuses an apply that has any."""
    found: list[str] = []
    if schema is None:
        return found
    for key, value in config.items():
        if key in META_FIELDS:
            continue
        _undeclared(value, schema.properties.get(key), schema, f".{key}", found)
    return found


def _undeclared(x: Any, s: Schema | None, parent: Schema, path: str, found: list[str]) -> None:
    if s is None:
        if not (parent.preserve or parent.additional_any or parent.additional is not None):
            found.append(path)
        return
    if isinstance(x, dict):
        for key, value in x.items():
            if s.embedded and key in META_FIELDS:
                continue
            sub = s.properties.get(key) or s.additional
            _undeclared(value, sub, s, f"{path}.{key}", found)
    elif isinstance(x, list) and s.items is not None:
        for index, value in enumerate(x):
            _undeclared(value, s.items, s, path + _element(s, value, index), found)


def _element(s: Schema, value: Any, index: int) -> str:
    if s.list_type == "map" and s.list_map_keys and isinstance(value, dict):
        keys = ",".join(
            f"{k}={json.dumps(value[k])}" for k in sorted(s.list_map_keys) if k in value
        )
        return f"[{keys}]"
    if s.list_type == "set":
        return f"[={json.dumps(value)}]"
    return f"[{index}]"
