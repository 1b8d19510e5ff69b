"""Fixtures of the add-on stack's tests: the real helm, the test charts packaged and pushed to
a real Distribution registry on 127.0.0.1, the Kubernetes simulator, and a runner for the
stack's steps."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from qengine_addons import (
    AddonSettings,
    Freeze,
    ServiceAccountIdentity,
    addon_steps,
    cluster_client,
)
from qengine_addons.testing import package_test_charts

from qengine import PluginSet, load_plugins
from qengine.runner import Executor, JobRef, JobResult, Plan
from qengine.secrets.hygiene import child_env
from qengine.spec import InfrastructureJob
from qengine.testing.helm import HelmUnavailableError, real_helm
from qengine.testing.kube import KubeSimulator
from qengine.testing.registry import LocalRegistry, run_registry

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "aws-eks" / "job.json"
NS = "qengine-system"


@pytest.fixture(scope="session")
def helm_binary() -> str:
    """The real helm: ``$QENGINE_HELM``, else what ``.ci/get-helm.sh`` provides (never skips)."""
    try:
        return str(real_helm(ROOT))
    except HelmUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def helm_on_host(helm_binary: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The real helm as the engine's host finds it (``QENGINE_HELM``), for jobs run through
    :class:`qengine.Engine` whose add-on settings name no binary (sandbox runs)."""
    monkeypatch.setenv("QENGINE_HELM", helm_binary)
    return helm_binary


def helm_env(home: Path) -> dict[str, str]:
    """An explicit environment for a helm run by a test."""
    return child_env(
        extra={
            "HOME": str(home),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
    )


def push(helm: str, archive: Path, registry: LocalRegistry, home: Path) -> None:
    """``helm push`` a chart archive to ``oci://<registry>/test-charts`` (plain HTTP)."""
    subprocess.run(
        [helm, "push", str(archive), f"oci://{registry.host}/test-charts", "--plain-http"],
        env=helm_env(home), check=True, capture_output=True,
    )  # fmt: skip


@attrs.frozen
class Charts:
    """The packaged test charts, pushed to ``registry``, and the test freeze of them."""

    directory: Path
    freeze: Freeze
    registry: LocalRegistry

    @property
    def mirror(self) -> str:
        return f"oci://{self.registry.host}/test-charts"


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory, helm_binary: str) -> Iterator[Charts]:
    """The test charts packaged by the real helm and pushed to a local registry."""
    base = tmp_path_factory.mktemp("charts")
    freeze = package_test_charts(helm_binary, base / "archives")
    with run_registry(base / "registry") as registry:
        for archive in sorted((base / "archives").glob("*.tgz")):
            push(helm_binary, archive, registry, base / "home")
        yield Charts(directory=base / "archives", freeze=freeze, registry=registry)


@pytest.fixture
def sim() -> Iterator[KubeSimulator]:
    """A running simulator (pods Ready after 0.05 s), stopped after the test."""
    with KubeSimulator(readiness_delay=0.05) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def plugins() -> PluginSet:
    """The AWS plugin (the example's provider section) and the Kubernetes plugin."""
    return load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws,kubernetes"})


Doc = dict[str, Any]


@pytest.fixture
def infra_doc(charts: Charts) -> Callable[..., Doc]:
    """The EKS example with its add-ons set by keyword and the local registry as mirror."""

    def make(**addons: object) -> Doc:
        doc: Doc = copy.deepcopy(json.loads(EXAMPLE.read_text()))
        doc["cluster"]["addons"] = {"chart_mirror": charts.mirror, **addons}
        return doc

    return make


Apply = Callable[..., JobResult]


@pytest.fixture
def apply_stack(plugins: PluginSet, sim: KubeSimulator, charts: Charts, helm_binary: str) -> Apply:
    """Run the stack's steps of a job document against the simulator; the job's result."""

    def run(
        doc: Doc,
        job_id: str,
        *,
        freeze: Freeze | None = None,
        executor: Executor | None = None,
        run_options: dict[str, Any] | None = None,
        service_accounts: Mapping[str, ServiceAccountIdentity] | None = None,
        **settings: Any,
    ) -> JobResult:
        doc = {**doc, "id": job_id}
        job = plugins.loader.load(doc)
        assert isinstance(job, InfrastructureJob)
        ca = sim.ca_pem
        ca_text = ca.decode() if isinstance(ca, bytes) else str(ca)

        def connect(_ctx: object) -> Any:
            return cluster_client(sim.url, ca_text, sim.token)

        options: dict[str, Any] = {
            "helm": helm_binary, "freeze": freeze or charts.freeze, "plain_http": True,
            "timeout": 30, "gate_timeout": 10.0, "poll_interval": 0.1,
        }  # fmt: skip
        options.update(settings)
        steps = addon_steps(
            job,
            connect,  # type: ignore[arg-type]
            AddonSettings(**options),
            service_accounts=service_accounts,
        )
        ref = JobRef(job_id=job_id, organization_id="org-demo", target_id="cluster/test")
        return (executor or Executor()).run(Plan(steps), ref, **(run_options or {}))

    return run
