"""Planning through the Engine: which services get build steps, and the registry check."""

from __future__ import annotations

from typing import Any

import pytest
import qengine_buildah.plugin
import qengine_oci.plugin
from qengine_buildah.backend import BuildahBackend

import qengine.testing.plugin
from qengine import Engine, PluginSet, SpecError, load_plugins
from qengine.runner import MemoryStateStore


def _document(**changes: Any) -> dict[str, Any]:
    service = {
        "kind": "application",
        "name": "web",
        "git": {"url": "https://git.example.com/web.git", "commit": "a" * 40},
    }
    document: dict[str, Any] = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "j1",
        "organization": {"id": "o1"},
        "actor": {"id": "a1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": "noop"},
        "build": {"kind": "buildah", "platform": "linux/arm64", "cache": "cache/apps"},
        "registry": {"kind": "oci", "url": "https://registry.example.com"},
        "environment": {
            "id": "e1",
            "name": "e1",
            "services": [service, {**service, "name": "api"}],
        },
    }
    document.update(changes)
    return document


def _plugins() -> PluginSet:
    return load_plugins(
        autoload=False,
        plugins=[
            ("test", qengine.testing.plugin),
            ("oci", qengine_oci.plugin),
            ("buildah", qengine_buildah.plugin),
        ],
    )


def _build_steps(document: dict[str, Any]) -> list[str]:
    engine = Engine(_plugins(), store=MemoryStateStore())
    plan = engine.plan(engine.accept(document, consume=False))
    return [step.id for step in plan.steps if step.id.startswith("build/")]


def test_one_build_step_per_application_service() -> None:
    assert _build_steps(_document()) == ["build/web", "build/api"]
    assert _build_steps(_document(services=["api"])) == ["build/api"]
    assert _build_steps(_document(action="delete")) == []


def test_the_engine_builds_the_backend_through_the_registered_factory() -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    services = engine.accept(_document(), consume=False).services
    assert isinstance(services.build_backend(), BuildahBackend)


def test_a_build_without_a_registry_is_refused_by_the_core_check() -> None:
    document = _document()
    del document["registry"]
    with pytest.raises(SpecError) as info:
        _plugins().loader.load(document)
    assert [issue.path for issue in info.value.issues] == ["$.registry"]
    assert "buildah" in info.value.issues[0].message
