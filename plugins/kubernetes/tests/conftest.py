"""Shared fixtures of the qengine-kubernetes tests: example jobs and the real helm binary."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_support import (
    ALL_KINDS,
    DEMO_SECRETS,
    QUICKSTART,
    ROOT,
    Deploy,
    Deployed,
    sim_settings,
)

from qengine import Engine, Event, PluginSet, load_plugins
from qengine.interfaces.cancel import CancelToken
from qengine.runner import MemoryStateStore
from qengine.spec import EnvironmentJob, secret_references
from qengine.testing.helm import HelmUnavailableError, real_helm
from qengine.testing.kube import KubeSimulator


@pytest.fixture(scope="session")
def k8s_plugins() -> PluginSet:
    """The kubernetes plugin, loaded from its entry point, with the oci registry and the
    buildah build plugins (an environment with an application needs a build section)."""
    return load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes,oci,buildah"})


@pytest.fixture
def load_env_job(k8s_plugins: PluginSet) -> Callable[[dict[str, Any]], EnvironmentJob]:
    """Loads (and so validates) an environment job document."""

    def load(document: dict[str, Any]) -> EnvironmentJob:
        job = k8s_plugins.loader.load(document)
        assert isinstance(job, EnvironmentJob)
        return job

    return load


@pytest.fixture
def example() -> Callable[[str], dict[str, Any]]:
    """A fresh copy of an example job document: ``quickstart`` or ``all-kinds``."""

    def read(name: str) -> dict[str, Any]:
        path = {"quickstart": QUICKSTART, "all-kinds": ALL_KINDS}[name]
        data: dict[str, Any] = json.loads(path.read_text())
        return copy.deepcopy(data)

    return read


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    """The real helm: ``$QENGINE_HELM`` if set, else what ``.ci/get-helm.sh`` provides.

    Fails (never skips) when helm cannot be had: the export's round trip is part of the
    default run.
    """
    try:
        return real_helm(ROOT)
    except HelmUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)


# -- the environment engine against the simulator -------------------------------------------


@pytest.fixture
def k8s_sim() -> Iterator[KubeSimulator]:
    """A running simulator (pods Ready after 0.05 s), stopped after the test."""
    with KubeSimulator(readiness_delay=0.05) as simulator:
        yield simulator


@pytest.fixture
def k8s_deploy(k8s_plugins: PluginSet, k8s_sim: KubeSimulator) -> Deploy:
    """Runs a job document through a real Engine against ``k8s_sim``.

    ``deploy(doc, job_id=..., action=..., **settings)``: each call is a new job (its own id).
    """
    store = MemoryStateStore()

    def deploy(
        doc: dict[str, Any],
        *,
        job_id: str,
        action: str = "deploy",
        cancel: CancelToken | None = None,
        **extra: Any,
    ) -> Deployed:
        document = copy.deepcopy(doc)
        document["id"] = job_id
        document["action"] = action
        engine = Engine(
            k8s_plugins, store=store, settings={"kubernetes": sim_settings(k8s_sim, **extra)}
        )
        events: list[Event] = []
        references = {name for _, name in secret_references(k8s_plugins.loader.load(document))}
        secrets = {name: DEMO_SECRETS.get(name, f"value-of-{name}") for name in references}
        result = engine.run(
            document, on_event=events.append, sandbox_secrets=secrets, cancel=cancel
        )
        return Deployed(result=result, events=events)

    return deploy
