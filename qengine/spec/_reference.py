"""The job-spec reference page, generated from the JSON Schema (``docs/reference/job-spec.md``)."""

from __future__ import annotations

import json
from typing import Any

from qengine.spec._convert import SectionKinds
from qengine.spec._schema import job_schema

HEADER = """# Job spec reference (v1)

Generated from the JSON Schema by `python -m qengine.spec._reference` with the first-party
plugins installed; do not edit by hand. The descriptions are the spec classes' own field
documentation (`:ivar` entries of their docstrings). `qengine schema` prints the schema itself;
`qengine explain PATH` describes one path (`qengine explain cluster.addons`). Every object
refuses unknown keys. Cross-field rules (unique service names, `depends_on` references and
cycles, routes to services with ports, secret references) are checked by `qengine validate`
and are not expressible in the schema.
"""


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(_type(option) for option in schema[key])
    if "const" in schema:
        return f"`{schema['const']!r}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    if schema.get("type") == "array":
        return f"array of {_type(schema['items'])}"
    if schema.get("type") == "object" and "additionalProperties" in schema:
        return f"map of {_type(schema['additionalProperties'])}"
    kind = str(schema.get("type", "any"))
    if "pattern" in schema:
        return f"{kind} (`{schema['pattern']}`)"
    if "minimum" in schema:
        return f"{kind} ({schema['minimum']}-{schema.get('maximum', '')})"
    return kind


def _default(schema: dict[str, Any]) -> str:
    if "default" not in schema:
        return ""
    return f"`{json.dumps(schema['default'])}`"


def render_reference(sections: SectionKinds | None = None) -> str:
    """The reference page as Markdown."""
    schema = job_schema(sections)
    lines = [HEADER]
    for name, definition in schema["$defs"].items():
        lines += [f"## {name}", "", definition.get("description", ""), ""]
        lines += [
            "| field | type | required | default | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        required = set(definition.get("required", ()))
        for field, field_schema in definition.get("properties", {}).items():
            cells = [
                f"`{field}`",
                _type(field_schema),
                "yes" if field in required else "",
                _default(field_schema),
                field_schema.get("description", ""),
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    from qengine._plugins import load_plugins

    # The reference documents the first-party plugins, not the contrib template's example.
    first_party = load_plugins(strict=True, environ={"QENGINE_DISABLE_PLUGINS": "directory"})
    print(render_reference(first_party.registry.section_kinds()), end="")
