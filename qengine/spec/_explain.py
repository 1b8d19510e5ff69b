"""What a path of the job spec means, read from the JSON Schema (``qengine explain``).

A path is the keys from a job's top down, joined by dots: ``environment.services``,
``cluster.addons.ingress``. Array brackets may be written or not (``services[].name``,
``services[0].name``). Where the spec picks a class by ``kind`` (services, plugin sections),
a segment may name the kind (``environment.services.container.replicas``); a field segment
there is looked up in the kinds that have it. A first segment naming a job kind
(``InfrastructureJob.cluster``) picks the family; otherwise the first family with that field.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from qengine._errors import InvalidInputError
from qengine.spec._convert import SectionKinds
from qengine.spec._job import JOB_KINDS
from qengine.spec._schema import job_schema
from qengine.spec._suggest import did_you_mean

_INDEX = re.compile(r"\[[0-9]*\]$")


@attrs.frozen
class Entry:
    """One field or kind under an explained path."""

    name: str
    type: str
    required: bool
    default: object
    has_default: bool
    description: str


@attrs.frozen
class Explanation:
    """A path of the spec: its type, default, description, and its fields or kinds."""

    path: str
    type: str
    required: bool
    default: object
    has_default: bool
    description: str
    children_are: str  # "fields", "kinds" or "" (a leaf)
    children: tuple[Entry, ...]

    def to_json(self) -> dict[str, object]:
        """The explanation as a JSON object (a default only where there is one)."""

        def entry(e: Entry | Explanation, key: str) -> dict[str, object]:
            data: dict[str, object] = {key: getattr(e, key), "type": e.type, "required": e.required}
            if e.has_default:
                data["default"] = e.default
            data["description"] = e.description
            return data

        document = entry(self, "path")
        document[self.children_are or "fields"] = [entry(c, "name") for c in self.children]
        return document


class _Walker:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = schema["$defs"]

    def resolve(self, fragment: dict[str, Any]) -> dict[str, Any]:
        """``fragment`` with a ``$ref`` followed and the one non-null option of a union."""
        while True:
            if "$ref" in fragment:
                fragment = self.defs[fragment["$ref"].rsplit("/", 1)[-1]]
            elif "anyOf" in fragment:
                options = [o for o in fragment["anyOf"] if o.get("type") != "null"]
                if len(options) != 1:
                    return fragment
                fragment = options[0]
            elif fragment.get("type") == "array":
                fragment = fragment["items"]
            else:
                return fragment

    def kinds(self, fragment: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The classes of a union selected by ``kind``, by kind."""
        found: dict[str, dict[str, Any]] = {}
        for option in fragment.get("oneOf", ()):
            resolved = self.resolve(option)
            kind = resolved.get("properties", {}).get("kind", {}).get("const")
            if isinstance(kind, str):
                found[kind] = option
        return found

    def type_text(self, fragment: dict[str, Any]) -> str:
        if "$ref" in fragment:
            return "object (" + str(fragment["$ref"]).rsplit("/", 1)[-1] + ")"
        if "anyOf" in fragment:
            return " or ".join(self.type_text(o) for o in fragment["anyOf"])
        if "oneOf" in fragment:
            return "object, by kind: " + ", ".join(sorted(self.kinds(fragment)))
        if "not" in fragment:
            return "nothing (no installed plugin provides this section)"
        if "const" in fragment:
            return repr(fragment["const"])
        if "enum" in fragment:
            return "one of " + ", ".join(map(repr, fragment["enum"]))
        kind = fragment.get("type", "any")
        if kind == "array":
            return "array of " + self.type_text(fragment["items"])
        if kind == "object" and isinstance(fragment.get("additionalProperties"), dict):
            return "map of " + self.type_text(fragment["additionalProperties"])
        return str(kind)


def explain(path: str, sections: SectionKinds | None = None) -> Explanation:
    """Explain ``path`` (see the module docstring); :class:`InvalidInputError` if there is
    no such path, with the closest names."""
    walker = _Walker(job_schema(sections))
    segments = [_INDEX.sub("", s) for s in path.strip().strip(".").split(".") if s]
    families = {name: walker.defs[cl.__name__] for name, cl in JOB_KINDS.items()}
    if segments and segments[0] in families:
        roots = {segments[0]: families[segments.pop(0)]}
    else:
        roots = families
    if not segments:
        kinds = {name: {"$ref": f"#/$defs/{cl.__name__}"} for name, cl in JOB_KINDS.items()}
        if len(roots) == 1:
            (name, root), *_ = roots.items()
            return _explained(walker, name, {"$ref": f"#/$defs/{name}"}, root, required=True)
        what = "A job document (apiVersion qengine.dev/v1); its `kind` selects the family."
        root = {"oneOf": list(kinds.values()), "description": what}
        return _explained(walker, "", root, None, required=True)
    first = segments[0]
    root = next((r for r in roots.values() if first in r["properties"]), None)
    if root is None:
        fields = sorted({f for r in roots.values() for f in r["properties"]})
        raise _unknown(first, "the job", fields)
    fragment, required, where = root, True, ""
    for segment in segments:
        fragment, required = _step(walker, fragment, segment, where)
        where = f"{where}.{segment}" if where else segment
    return _explained(walker, where, fragment, None, required=required)


def _step(
    walker: _Walker, fragment: dict[str, Any], segment: str, where: str
) -> tuple[dict[str, Any], bool]:
    node = walker.resolve(fragment)
    properties = node.get("properties")
    if isinstance(properties, dict):
        if segment in properties:
            return properties[segment], segment in node.get("required", ())
        raise _unknown(segment, where or "the job", list(properties))
    kinds = walker.kinds(node)
    if segment in kinds:
        return kinds[segment], True
    having = [k for k, option in kinds.items() if segment in walker.resolve(option)["properties"]]
    if having:
        option = walker.resolve(kinds[having[0]])
        return option["properties"][segment], segment in option.get("required", ())
    fields = {f for option in kinds.values() for f in walker.resolve(option)["properties"]}
    names = list(kinds) + sorted(fields)
    raise _unknown(segment, where or "the job", names)


def _unknown(segment: str, where: str, names: list[str]) -> InvalidInputError:
    hint = did_you_mean(segment, names)
    command = "qengine explain" + ("" if where == "the job" else f" {where}")
    return InvalidInputError(
        f"{where} has no field or kind {segment!r}{hint}", hint=f"`{command}` lists what it has."
    )


def _explained(
    walker: _Walker,
    path: str,
    fragment: dict[str, Any],
    node: dict[str, Any] | None,
    *,
    required: bool,
) -> Explanation:
    resolved = node if node is not None else walker.resolve(fragment)
    description = _description(walker, fragment) if node is None else node.get("description", "")
    children_are, children = "", tuple[Entry, ...]()
    if isinstance(resolved.get("properties"), dict):
        children_are = "fields"
        needed = set(resolved.get("required", ()))
        children = tuple(
            _entry(walker, name, prop, name in needed)
            for name, prop in resolved["properties"].items()
        )
    elif "oneOf" in resolved:
        children_are = "kinds"
        children = tuple(
            Entry(kind, walker.type_text(option), False, None, False, _description(walker, option))
            for kind, option in sorted(walker.kinds(resolved).items())
        )
    return Explanation(
        path=path or "(job)",
        type=walker.type_text(fragment),
        required=required,
        default=fragment.get("default"),
        has_default="default" in fragment,
        description=description,
        children_are=children_are,
        children=children,
    )


def _entry(walker: _Walker, name: str, prop: dict[str, Any], required: bool) -> Entry:
    return Entry(
        name=name,
        type=walker.type_text(prop),
        required=required,
        default=prop.get("default"),
        has_default="default" in prop,
        description=_description(walker, prop),
    )


def _description(walker: _Walker, fragment: dict[str, Any]) -> str:
    """The fragment's own description, else its class's."""
    text = fragment.get("description") or walker.resolve(fragment).get("description", "")
    return str(text)
