"""JSON Schema (draft 2020-12) generated from the spec classes.

The schema is derived from the same attrs classes and scalar table the converter uses, so the
two cannot drift: a test checks that the schema accepts every golden valid spec and rejects
every invalid one. Cross-field rules (unique names, references, cycles) are beyond JSON Schema
and are only enforced by the loader.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from qengine.spec._common import SecretRef
from qengine.spec._convert import JSON_NAMES, SectionKinds, make_converter
from qengine.spec._fielddocs import class_doc, field_doc
from qengine.spec._job import API_VERSION, JOB_KINDS
from qengine.spec._scalars import SCALARS
from qengine.spec._sections import SECTION_BASES, PluginSection
from qengine.spec._services import SERVICE_KINDS, Service
from qengine.spec._values import HelmValues

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_PRIMITIVES: dict[object, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}


class _Builder:
    def __init__(self, sections: SectionKinds) -> None:
        self.sections = sections
        self.defs: dict[str, dict[str, Any]] = {}
        self.converter = make_converter(sections)

    def ref(self, cl: type) -> dict[str, Any]:
        name = cl.__name__
        if name not in self.defs:
            self.defs[name] = {}  # placeholder first: classes may refer to themselves
            self.defs[name] = self.object_schema(cl)
        return {"$ref": f"#/$defs/{name}"}

    def object_schema(self, cl: type) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        hints = typing.get_type_hints(cl)
        for field in attrs.fields(cl):
            key = JSON_NAMES.get(field.name, field.name)
            prop = self.type_schema(hints[field.name])
            doc = field_doc(cl, field.name)
            if doc:
                prop["description"] = doc
            if field.default is attrs.NOTHING:
                required.append(key)
            else:
                prop["default"] = self.default(field.default)
            properties[key] = prop
        schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        description = class_doc(cl)
        if description:
            schema["description"] = description
        if required:
            schema["required"] = required
        return schema

    def default(self, default: object) -> object:
        """The JSON value of a field's default."""
        factory = getattr(default, "factory", None)  # an attrs.Factory
        value = factory() if callable(factory) else default
        # Enumerations unstructure to themselves: one JSON round trip leaves plain values.
        return json.loads(json.dumps(self.converter.unstructure(value)))

    def union(self, kinds: Mapping[str, type]) -> dict[str, Any]:
        return (
            {"oneOf": [self.ref(cl) for _, cl in sorted(kinds.items())]}
            if kinds
            else {"not": {}, "description": "no installed plugin provides this section"}
        )

    def type_schema(self, tp: Any) -> dict[str, Any]:
        origin = typing.get_origin(tp)
        if tp in SCALARS:
            rule = SCALARS[tp]
            return {**_PRIMITIVES[rule.base], **rule.schema}
        if tp in _PRIMITIVES:
            return dict(_PRIMITIVES[tp])
        if tp is Service or tp == Service:
            return self.union(SERVICE_KINDS)
        if isinstance(tp, type) and issubclass(tp, PluginSection) and tp in SECTION_BASES:
            return self.union(dict(self.sections.get(tp, {})))
        if tp is HelmValues:
            return {"type": "object"}
        if origin is Literal:
            values = typing.get_args(tp)
            return {"const": values[0]} if len(values) == 1 else {"enum": list(values)}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"enum": [member.value for member in tp]}
        if origin in (typing.Union, types.UnionType):
            return {"anyOf": [self.type_schema(arg) for arg in typing.get_args(tp)]}
        if origin is tuple:
            return {"type": "array", "items": self.type_schema(typing.get_args(tp)[0])}
        if origin is Mapping:
            key, value = typing.get_args(tp)
            return {
                "type": "object",
                "propertyNames": self.type_schema(key),
                "additionalProperties": self.type_schema(value),
            }
        if attrs.has(tp):
            return self.ref(tp)
        raise TypeError(f"no JSON Schema for {tp!r}")


def job_schema(sections: SectionKinds | None = None) -> dict[str, Any]:
    """The JSON Schema of a job document, with the plugin sections in ``sections``."""
    builder = _Builder(sections or {})
    builder.ref(SecretRef)
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "$id": "https://qengine.dev/schemas/job/v1.json",
        "title": f"qengine job ({API_VERSION})",
        "oneOf": [builder.ref(cl) for cl in JOB_KINDS.values()],
    }
    schema["$defs"] = dict(sorted(builder.defs.items()))
    return schema
