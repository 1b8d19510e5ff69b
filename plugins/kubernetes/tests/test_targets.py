"""The cluster targets of qengine-kubernetes, loaded from the plugin's entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from qengine_kubernetes import InClusterTarget, KubeconfigTarget, SandboxTarget

from qengine import SpecError, load_plugins

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


def test_targets_build_the_environment_engine() -> None:
    from qengine_kubernetes.engine import EnvironmentEngine

    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    factory = plugins.registry.get("cluster target", "sandbox").factory
    assert isinstance(factory(), EnvironmentEngine)
