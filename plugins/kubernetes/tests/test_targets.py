"""The cluster targets of qengine-kubernetes, loaded from the plugin's entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from qengine_kubernetes import InClusterTarget, KubeconfigTarget, SandboxTarget

from qengine import Engine, InvalidInputError, JobServices, SpecError, load_plugins
from qengine.runner import MemoryStateStore
from qengine.spec import EnvAction, EnvironmentJob, secret_references

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "quickstart" / "job.json"


def _with_target(target: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EXAMPLE.read_text())
    document["target"] = target
    return document


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"kind": "sandbox"}, SandboxTarget(kind="sandbox")),
        ({"kind": "in-cluster"}, InClusterTarget(kind="in-cluster")),
        (
            {"kind": "kubeconfig", "path": "/k", "context": "c"},
            KubeconfigTarget(kind="kubeconfig", path="/k", context="c"),
        ),
    ],
)
def test_targets_structure_into_their_classes(target: dict[str, Any], expected: object) -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    assert plugins.loader.load(_with_target(target)).target == expected  # type: ignore[union-attr]


def test_unknown_field_of_a_target_is_refused() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(_with_target({"kind": "kubeconfig", "token": "abc"}))
    assert [i.path for i in caught.value.issues] == ["$.target.token"]


@pytest.mark.parametrize(
    "target",
    [{"kind": "sandbox"}, {"kind": "in-cluster"}, {"kind": "kubeconfig", "path": "/k"}],
    ids=["sandbox", "in-cluster", "kubeconfig"],
)
def test_targets_build_the_environment_engine(target: dict[str, Any]) -> None:
    from qengine_kubernetes.engine import KubernetesEnvEngine

    services = _services(_with_target(target))
    engine = services.env_engine()
    assert isinstance(engine, KubernetesEnvEngine)
    assert engine.target == services.job.target  # type: ignore[union-attr]


def test_each_action_of_the_engine_plans_that_action() -> None:
    services = _services(_with_target({"kind": "sandbox"}))
    job = services.job
    assert isinstance(job, EnvironmentJob)
    assert job.action is EnvAction.DEPLOY
    engine = services.env_engine()
    planned = {
        EnvAction.DEPLOY: engine.deploy(job),
        EnvAction.PAUSE: engine.pause(job),
        EnvAction.RESUME: engine.resume(job),
        EnvAction.RESTART: engine.restart(job),
        EnvAction.DELETE: engine.delete(job),
    }
    for action, steps in planned.items():
        assert steps, action
        assert {s.description.split()[0] for s in steps} <= {action.value, "delete"}
        assert all(s.id.startswith("kubernetes/") for s in steps)
    assert [s.id for s in engine.plan(job)] == [s.id for s in planned[EnvAction.DEPLOY]]


def test_engine_settings_that_are_not_kube_settings_are_refused() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore(), settings={"kubernetes": {"endpoint": "x"}})
    document = _with_target({"kind": "sandbox"})
    accepted = engine.accept(document, sandbox_secrets=_secrets(document), consume=False)
    with pytest.raises(InvalidInputError, match="not a KubeSettings"):
        engine.plan(accepted)


def _secrets(document: dict[str, Any]) -> dict[str, str]:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    return {name: "x" for _, name in secret_references(plugins.loader.load(document))}


def _services(document: dict[str, Any]) -> JobServices:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore())
    secrets = _secrets(document)
    return engine.accept(document, sandbox_secrets=secrets, consume=False).services
