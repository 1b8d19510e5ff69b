"""The official OpenAPI schemas of the built-in kinds, compiled for decoding.

A real API server decodes a request body into the Go type of its kind before anything else
happens. That decoding is what refuses a wrong type (``replicas: "two"``), a malformed
quantity (``cpu: "abc"``) and, when asked to, an unknown field; it also drops unknown fields
(pruning). This module reproduces it from the Kubernetes 1.31 schemas that the PyPI package
``kubernetes-validate`` ships (its ``v1.31.0-local`` definitions, generated from the
official OpenAPI document), with the messages of the two decoders involved:

* :func:`decode_json` walks an object as the API server's JSON decoder does
  (``sigs.k8s.io/json``, a fork of Go's ``encoding/json``): unknown fields are collected with
  their strict-decoding paths (``spec.template.spec.containers[0].foo``), to be pruned or
  refused; the first type error is kept (``json: cannot unmarshal string into Go struct field
  DeploymentSpec.spec.replicas of type int32``), as Go keeps the first one and goes on; a
  value whose Go type has its own decoder (a quantity, an int-or-string) stops the walk with
  that decoder's error.
* :func:`decode_typed` walks a server-side apply configuration as structured-merge-diff's
  typed conversion does (``.spec.foo: field not declared in schema``, ``.spec.replicas:
  expected numeric (int or float), got string``), then collects the errors of the
  conversion to the Go type that follows it (a malformed quantity).

The package is imported lazily (it is in the ``kube-simulator`` extra); without it,
:func:`node_for` answers None and nothing is decoded. The definitions are read once and each
Go type is compiled once, on first use, into a small tree of nodes that the walkers follow.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import re
from pathlib import Path
from typing import Any

from qengine.testing.kube.gofmt import go_float, go_quote

SCHEMA_VERSION = "1.31"
JSON = dict[str, Any]

_PACKAGE = "kubernetes_validate"
_SCHEMAS = "kubernetes-json-schema"
_REF = "#/$defs/"

# Node kinds: what the Go type of a field is.
STRUCT, MAP, LIST, STRING, INT, FLOAT, BOOL, QUANTITY, INT_OR_STRING, ANY = range(10)

QUANTITY_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
SUFFIX_ERROR = "unable to parse quantity's suffix"
_DECIMAL_SUFFIXES = frozenset(["", "n", "u", "m", "k", "M", "G", "T", "P", "E"])
_BINARY_SUFFIXES = frozenset(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"])
_EXPONENT = re.compile(r"^[eE][-+]?[0-9]+$")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}

# Go types whose own JSON decoders replace the schema: a definition name, its node kind.
_SPECIAL = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": QUANTITY,
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": INT_OR_STRING,
    # Raw JSON kept as given (managedFields' fieldsV1, embedded objects, CRD schema parts).
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": ANY,
    "io.k8s.apimachinery.pkg.runtime.RawExtension": ANY,
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray": ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool": ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray": ANY,
}


class Node:
    """One Go type: its kind, its Go spelling, and what it contains.

    ``fields`` (structs) is compiled on first use, so recursive types (a CRD's
    ``JSONSchemaProps``) cost nothing until an object uses them.
    """

    __slots__ = ("_fields", "_schema", "go_type", "item", "keys", "kind", "name")

    def __init__(self, kind: int, go_type: str, *, name: str = "", schema: JSON | None = None):
        self.kind = kind
        self.go_type = go_type
        self.name = name  # a struct's bare Go name, for "Go struct field <name>.<path>"
        self.item: Node | None = None  # a list's item, a map's value
        self.keys: tuple[str, ...] = ()  # a list-map's keys (server-side apply paths)
        self._schema = schema
        self._fields: dict[str, Node] | None = None

    @property
    def fields(self) -> dict[str, Node]:
        """A struct's fields by JSON name."""
        if self._fields is None:
            props = (self._schema or {}).get("properties") or {}
            self._fields = {name: _compile(prop) for name, prop in props.items()}
        return self._fields


@functools.cache
def _definitions() -> dict[str, JSON] | None:
    """The 1.31 definitions, read from the package's data without importing the package
    (its import pulls in jsonschema and pyyaml, which decoding does not need)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / _SCHEMAS
    path = root / f"v{SCHEMA_VERSION}.0-local" / "_definitions.json"
    if not path.is_file():
        # A release that no longer carries 1.31: the nearest version it has.
        versions = sorted(
            (p for p in root.glob("v*-local") if (p / "_definitions.json").is_file()),
            key=lambda p: abs(_minor(p.name) - _minor(SCHEMA_VERSION)),
        )
        if not versions:
            return None
        path = versions[0] / "_definitions.json"
    defs: dict[str, JSON] = json.loads(path.read_bytes())["$defs"]
    return defs


def _minor(version: str) -> int:
    match = re.search(r"1\.(\d+)", version)
    return int(match.group(1)) if match else 0


@functools.cache
def _kinds() -> dict[tuple[str, str, str], str]:
    """(group, version, kind) -> definition name, from ``x-kubernetes-group-version-kind``."""
    found: dict[tuple[str, str, str], str] = {}
    for name, schema in (_definitions() or {}).items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            found[(gvk.get("group", ""), gvk["version"], gvk["kind"])] = name
    return found


def node_for(group: str, version: str, kind: str) -> Node | None:
    """The compiled type of a built-in kind; None for kinds without an official schema
    (custom resources) or when ``kubernetes-validate`` is not installed."""
    if _definitions() is None:
        return None
    name = _kinds().get((group, version, kind))
    return _named(name) if name else None


@functools.cache
def _named(name: str) -> Node:
    if name in _SPECIAL:
        kind = _SPECIAL[name]
        package, short = name.split(".")[-2:]
        return Node(kind, f"{package}.{short}")
    schema = (_definitions() or {})[name]
    if "properties" in schema:
        package, short = name.split(".")[-2:]
        return Node(STRUCT, f"{package}.{short}", name=short, schema=schema)
    return _compile(schema)


def _type_of(schema: JSON) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return str(kind or "")


def _compile(schema: JSON) -> Node:
    ref = schema.get("$ref")
    if ref:
        return _named(ref.rsplit("/", 1)[-1] if ref.startswith(_REF) else ref.split("/")[-1])
    kind = _type_of(schema)
    if kind == "array":
        item = _compile(schema.get("items") or {})
        node = Node(LIST, "[]" + item.go_type)
        node.item = item
        if schema.get("x-kubernetes-list-type") == "map":
            node.keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        return node
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            value = _compile(extra)
            node = Node(MAP, "map[string]" + value.go_type)
            node.item = value
            return node
        return Node(ANY, "map[string]interface {}")
    if kind == "string":
        return Node(STRING, "string")
    if kind == "integer":
        return Node(INT, str(schema.get("format") or "int64"))
    if kind == "number":
        return Node(FLOAT, "float64")
    if kind == "boolean":
        return Node(BOOL, "bool")
    return Node(ANY, "interface {}")


# -- quantities ---------------------------------------------------------------------------


def quantity_error(text: str) -> str:
    """The error of ``resource.ParseQuantity`` for ``text`` (as its JSON decoder trims it),
    or "" when it parses."""
    text = text.strip()
    if not text:
        return QUANTITY_ERROR
    pos, end = 0, len(text)
    if text[0] in "+-":
        pos = 1
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    if pos < end and text[pos] == ".":
        pos += 1
        while pos < end and text[pos].isdigit() and text[pos].isascii():
            pos += 1
    start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    if pos < end:
        return QUANTITY_ERROR
    suffix = text[start:]
    if suffix in _DECIMAL_SUFFIXES or suffix in _BINARY_SUFFIXES or _EXPONENT.match(suffix):
        return ""
    return SUFFIX_ERROR


def _raw_quantity(value: Any) -> str | None:
    """What a quantity's JSON decoder parses, or None when the value is a JSON number."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)  # an object or array: its raw text, which never parses


# -- Go spellings -------------------------------------------------------------------------


def json_kind(value: Any) -> str:
    """How Go's JSON decoder names the kind of a JSON value in a type error."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object"


def go_number(value: float) -> str:
    """A JSON number as Go's ``%v`` prints it: an int64 in full, a float64 in its shortest
    digits, in exponent form below 1e-04 and from 1e+06 (``strconv.FormatFloat(v, 'g', -1)``)."""
    return str(value) if isinstance(value, int) else go_float(value)


def go_v(value: Any) -> str:
    """A decoded JSON value as Go's ``%v`` prints it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(go_v(v) for v in value) + "]"
    return "map[" + " ".join(f"{k}:{go_v(value[k])}" for k in sorted(value)) + "]"


def _go_sharp_v(value: Any) -> str:
    """A decoded JSON value as Go's ``%#v`` prints an ``interface{}`` holding it."""
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_sharp_v(v) for v in value) + "}"
    if isinstance(value, dict):
        items = ", ".join(f"{go_quote(k)}:{_go_sharp_v(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + items + "}"
    return go_v(value)


def _go_t(value: Any) -> str:
    """Go's ``%T`` of a decoded JSON value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


# -- the JSON decoder ---------------------------------------------------------------------


class DecodeAbort(Exception):
    """A Go type's own decoder failed: decoding stops with this message."""


class JsonFindings:
    """What decoding one JSON object found."""

    __slots__ = ("_where", "type_error", "unknown")

    def __init__(self) -> None:
        self.unknown: list[str] = []  # strict-decoding paths, in document order
        self.type_error = ""  # the first UnmarshalTypeError, as Go words it
        self._where: list[tuple[JSON, str]] = []  # the unknown fields' objects and keys

    def prune(self) -> None:
        """Remove the unknown fields from the decoded object, in place."""
        for obj, key in self._where:
            obj.pop(key, None)


def decode_json(node: Node, obj: JSON) -> JsonFindings:
    """Decode ``obj`` (a dict of ``node``'s struct type) as the API server's JSON decoder.

    ``obj`` is left as it is (an error message may show it whole); the findings' ``prune``
    drops its unknown fields. Raises :class:`DecodeAbort` when a value's own decoder fails
    (a malformed quantity).
    """
    found = JsonFindings()
    _json_struct(node, obj, "", "", found)
    return found


def _type_error(found: JsonFindings, value: Any, node: Node, struct: str, field: str) -> None:
    if found.type_error:
        return
    what = json_kind(value)
    if what == "number" and node.kind == INT:
        what = "number " + (go_number(value) if isinstance(value, int) else repr(value))
    found.type_error = (
        f"json: cannot unmarshal {what} into Go struct field {struct}.{field} of type "
        f"{node.go_type}"
    )


def _json_struct(node: Node, obj: JSON, spath: str, gpath: str, found: JsonFindings) -> None:
    fields = node.fields
    for key, value in obj.items():
        child = fields.get(key)
        if child is None:
            found.unknown.append(f"{spath}.{key}" if spath else key)
            found._where.append((obj, key))
            continue
        if value is None or _plain(child, value):
            continue
        _json_value(
            child,
            value,
            f"{spath}.{key}" if spath else key,
            f"{gpath}.{key}" if gpath else key,
            node.name,
            found,
        )


def _plain(node: Node, value: Any) -> bool:
    """A value that needs no further look: anything for an untyped node, or a scalar of
    the node's type that both decoders accept (the common case, checked without building
    paths)."""
    kind = node.kind
    if kind == STRING:
        return isinstance(value, str)
    if kind == INT:
        return type(value) is int and -(2**31) <= value < 2**31
    if kind == BOOL:
        return value is True or value is False
    return kind == ANY


def _json_value(
    node: Node, value: Any, spath: str, gpath: str, struct: str, found: JsonFindings
) -> None:
    """Decode one non-null value of a struct field, a list item or a map value."""
    kind = node.kind
    if kind == STRING:
        if not isinstance(value, str):
            _type_error(found, value, node, struct, gpath)
    elif kind == STRUCT:
        if isinstance(value, dict):
            _json_struct(node, value, spath, gpath, found)
        else:
            _type_error(found, value, node, struct, gpath)
    elif kind == INT:
        if type(value) is not int:
            _type_error(found, value, node, struct, gpath)
        else:
            low, high = _INT_RANGE.get(node.go_type, _INT_RANGE["int64"])
            if not low <= value <= high:
                _type_error(found, value, node, struct, gpath)
    elif kind == LIST:
        if not isinstance(value, list):
            _type_error(found, value, node, struct, gpath)
            return
        item = node.item
        assert item is not None
        if item.kind == ANY:
            return
        for index, entry in enumerate(value):
            if entry is not None:
                _json_value(item, entry, f"{spath}[{index}]", gpath, struct, found)
    elif kind == MAP:
        if not isinstance(value, dict):
            _type_error(found, value, node, struct, gpath)
            return
        item = node.item
        assert item is not None
        if item.kind == ANY:
            return
        for key, entry in value.items():
            if entry is not None:
                _json_value(item, entry, f"{spath}.{key}", gpath, struct, found)
    elif kind == BOOL:
        if not isinstance(value, bool):
            _type_error(found, value, node, struct, gpath)
    elif kind == FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _type_error(found, value, node, struct, gpath)
    elif kind == QUANTITY:
        raw = _raw_quantity(value)
        error = quantity_error(raw) if raw is not None else ""
        if error:
            raise DecodeAbort(error)
    elif kind == INT_OR_STRING:
        # Its decoder reads a quoted value as a string and anything else as an int32, with a
        # nested decoder whose type error then gets the outer field's context.
        if isinstance(value, str):
            return
        bad = _int32_error(value)
        if bad:
            raise DecodeAbort(
                f"json: cannot unmarshal {bad} into Go struct field {struct}.{gpath} of type int32"
            )


def _int32_error(value: Any) -> str:
    """How Go names a non-int32 JSON value decoded into an int32 ("" when it fits)."""
    if type(value) is int:
        low, high = _INT_RANGE["int32"]
        return "" if low <= value <= high else f"number {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    return json_kind(value)


# -- server-side apply's typed conversion -------------------------------------------------


class TypedFindings:
    """What the typed conversion of an apply configuration found."""

    __slots__ = ("conversion", "errors")

    def __init__(self) -> None:
        self.errors: list[str] = []  # structured-merge-diff validation errors
        self.conversion = ""  # the first error converting the result to its Go type


def decode_typed(node: Node, obj: JSON) -> TypedFindings:
    """Check an apply configuration as server-side apply's typed conversion does."""
    found = TypedFindings()
    _typed(node, obj, "", found)
    return found


def _typed(node: Node, value: Any, path: str, found: TypedFindings) -> None:
    if value is None or node.kind == ANY:
        return
    kind = node.kind
    if kind in (STRUCT, MAP):
        if not isinstance(value, dict):
            found.errors.append(f"{path}: expected map, got &{{{go_v(value)}}}")
            return
        fields = node.fields if kind == STRUCT else None
        for key, entry in value.items():
            child = fields.get(key) if fields is not None else node.item
            if child is None:
                # structured-merge-diff stops visiting a map at its first undeclared field.
                found.errors.append(f"{path}.{key}: field not declared in schema")
                return
            if entry is not None and not _plain(child, entry):
                _typed(child, entry, f"{path}.{key}", found)
    elif kind == LIST:
        if not isinstance(value, list):
            found.errors.append(f"{path}: expected list, got &{{{go_v(value)}}}")
            return
        item = node.item
        assert item is not None
        for index, entry in enumerate(value):
            _typed(item, entry, path + _element(node, index, entry), found)
    else:
        _typed_scalar(node, value, path, found)


def _element(node: Node, index: int, entry: Any) -> str:
    """A list element's path as structured-merge-diff prints it: keys, else the index."""
    if node.keys and isinstance(entry, dict):
        parts = [f"{key}={_key_text(entry[key])}" for key in sorted(node.keys) if key in entry]
        if parts:
            return "[" + ",".join(parts) + "]"
    return f"[{index}]"


def _key_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else go_v(value)


def _typed_scalar(node: Node, value: Any, path: str, found: TypedFindings) -> None:
    kind = node.kind
    if kind == STRING:
        if not isinstance(value, str):
            found.errors.append(
                f"{path}: expected string, got &value.valueUnstructured{{Value:"
                f"{_go_sharp_v(value)}}}"
            )
    elif kind in (INT, FLOAT):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            found.errors.append(f"{path}: expected numeric (int or float), got {_go_t(value)}")
        elif kind == INT and isinstance(value, float) and value != math.trunc(value):
            _conversion(found, f"cannot convert float64 to {node.go_type}")
    elif kind == BOOL:
        if not isinstance(value, bool):
            found.errors.append(f"{path}: expected boolean, got &{{{go_v(value)}}}")
    elif isinstance(value, (dict, list)):
        found.errors.append(f"{path}: expected any scalar, got &{{{go_v(value)}}}")
    elif kind == QUANTITY:
        raw = _raw_quantity(value)
        error = quantity_error(raw) if raw is not None else ""
        if error:
            _conversion(found, error)
    elif kind == INT_OR_STRING and not isinstance(value, str):
        bad = _int32_error(value)
        if bad:
            _conversion(found, f"json: cannot unmarshal {bad} into Go value of type int32")


def _conversion(found: TypedFindings, message: str) -> None:
    if not found.conversion:
        found.conversion = message
