"""The JSON Schema documents every property, from the spec classes' own field docs."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import attrs
import pytest

from qengine import PluginSet, load_plugins
from qengine.spec._fielddocs import documented_fields
from qengine.spec._schema import job_schema

SPEC_MODULES = (
    "qengine.spec._common",
    "qengine.spec._job",
    "qengine.spec._sections",
    "qengine.spec._services",
    "qengine_aws.spec",
    "qengine_azure.spec",
    "qengine_buildah.spec",
    "qengine_docker.spec",
    "qengine_gcp.spec",
    "qengine_kubernetes.spec",
    "qengine_oci.spec",
)


# The plugins of plugins/: the contrib template, if installed, is not documented with them.
FIRST_PARTY = ("addons", "aws", "azure", "buildah", "docker", "gcp", "kubernetes", "oci")


def _first_party() -> PluginSet:
    return load_plugins(strict=True, environ={"QENGINE_PLUGINS": ",".join(FIRST_PARTY)})


def _properties() -> list[tuple[str, str, dict[str, Any], bool]]:
    schema = job_schema(_first_party().registry.section_kinds())
    return [
        (name, key, prop, key in definition.get("required", ()))
        for name, definition in schema["$defs"].items()
        for key, prop in definition.get("properties", {}).items()
    ]


PROPERTIES = _properties()


def test_the_schema_has_many_properties() -> None:
    assert len(PROPERTIES) > 300


@pytest.mark.parametrize(
    ("definition", "key", "prop", "required"),
    PROPERTIES,
    ids=[f"{d}.{k}" for d, k, *_ in PROPERTIES],
)
def test_every_property_has_a_description_and_optional_ones_a_default(
    definition: str, key: str, prop: dict[str, Any], required: bool
) -> None:
    description = prop.get("description", "")
    assert len(description) > 5, (
        f"{definition}.{key} has no description: add ':ivar {key}: ...' to its class docstring"
    )
    assert required != ("default" in prop)


def test_defaults_are_json_values() -> None:
    schema = job_schema()
    props = schema["$defs"]["JobSchedule"]["properties"]
    assert props["concurrency_policy"]["default"] == "Forbid"
    assert type(props["concurrency_policy"]["default"]) is str
    assert schema["$defs"]["ContainerService"]["properties"]["resources"]["default"] == {}
    assert schema["$defs"]["ContainerService"]["properties"]["ports"]["default"] == []


def _spec_classes() -> list[type]:
    classes: list[type] = []
    for name in SPEC_MODULES:
        module = importlib.import_module(name)
        classes += [
            cl
            for _, cl in inspect.getmembers(module, inspect.isclass)
            if attrs.has(cl) and cl.__module__ == name
        ]
    return classes


@pytest.mark.parametrize("cl", _spec_classes(), ids=lambda cl: cl.__name__)
def test_field_docs_name_fields_the_class_has(cl: type) -> None:
    """A renamed or removed field takes its documentation with it."""
    fields = {f.name for f in attrs.fields(cl)}
    assert documented_fields(cl) <= fields
