"""Planning: which services get build steps, and the check for a registry section."""

from __future__ import annotations

from typing import Any

import qengine_buildah.plugin
import qengine_oci.plugin

import qengine.testing.plugin
from qengine import load_plugins
from qengine.spec import EnvironmentJob, load_job


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
        "build": {"kind": "buildah"},
        "registry": {"kind": "oci", "url": "https://registry.example.com"},
        "environment": {
            "id": "e1",
            "name": "e1",
            "services": [service, {**service, "name": "api"}],
        },
    }
    document.update(changes)
    return document


def _plugins() -> Any:
    return load_plugins(
        autoload=False,
        plugins=[
            ("test", qengine.testing.plugin),
            ("oci", qengine_oci.plugin),
            ("buildah", qengine_buildah.plugin),
        ],
    )


def test_one_build_step_per_application_service() -> None:
    plugins = _plugins()
    job = _load(_document(), plugins)
    from qengine_buildah.steps import steps_for

    steps = steps_for(job, job.build, job.registry, lambda name: None, {})  # type: ignore[arg-type]
    assert [step.id for step in steps] == ["build/web", "build/api"]
    only = _load(_document(services=["api"]), plugins)
    assert [s.id for s in steps_for(only, only.build, only.registry, print, {})] == ["build/api"]  # type: ignore[arg-type]
    delete = _load(_document(action="delete"), plugins)
    assert steps_for(delete, delete.build, delete.registry, print, {}) == []  # type: ignore[arg-type]


def test_a_buildah_job_needs_an_oci_registry() -> None:
    plugins = _plugins()
    document = _document()
    del document["registry"]
    job = _load(document, plugins)
    issues = [issue for found in plugins.manager.hook.qengine_check_job(job=job) for issue in found]
    assert [issue.path for issue in issues] == ["$.registry"]


def _load(document: dict[str, Any], plugins: Any) -> EnvironmentJob:
    job = load_job(document, plugins.registry.section_kinds())
    assert isinstance(job, EnvironmentJob)
    return job
