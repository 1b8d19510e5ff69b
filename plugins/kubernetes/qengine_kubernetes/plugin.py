"""Hook implementations of qengine-kubernetes: targets, checks, plan steps and export.

No Kubernetes SDK is imported here (rendering is plain data); the modules behind each hook are
imported when the hook is called, so loading the plugin stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qengine import SpecIssue, hookimpl
from qengine._plugins import Registry
from qengine.spec import EnvironmentJob, Job
from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget, SandboxTarget

if TYPE_CHECKING:
    from pathlib import Path

    from qengine._engine import JobServices
    from qengine._sandbox import SandboxSession
    from qengine.runner import Step


def _engine_factory() -> object:
    from qengine_kubernetes.engine import build_engine

    return build_engine()


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the kubeconfig, in-cluster and sandbox targets."""
    registry.add_target(
        "kubeconfig",
        KubeconfigTarget,
        _engine_factory,
        "a cluster reached through a kubeconfig file",
    )
    registry.add_target(
        "in-cluster",
        InClusterTarget,
        _engine_factory,
        "the cluster the engine runs in (service account)",
    )
    registry.add_target(
        "sandbox", SandboxTarget, _engine_factory, "the embedded Kubernetes API simulator"
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """Refuse environment jobs whose services cannot become valid Kubernetes objects."""
    from qengine_kubernetes.checks import check_job

    return check_job(job)


@hookimpl
def qengine_sandbox(job: Job, session: SandboxSession) -> dict[str, object] | None:
    """A sandbox environment job runs against the session's cluster, or a new simulator."""
    from qengine_kubernetes.sandbox import sandbox_settings
    from qengine_kubernetes.settings import PLUGIN

    settings = sandbox_settings(job, session)
    return None if settings is None else {PLUGIN: settings}


@hookimpl
def qengine_plan_steps(job: Job, services: JobServices) -> list[Step] | None:
    """One step per service of an environment job on a Kubernetes target, in stage order."""
    from qengine_kubernetes.checks import is_kubernetes_job
    from qengine_kubernetes.steps import plan_steps

    if not isinstance(job, EnvironmentJob) or not is_kubernetes_job(job):
        return None
    return plan_steps(job, services)


@hookimpl
def qengine_export(job: Job, directory: Path) -> list[str] | None:
    """A Helm chart of the environment, secret values as placeholders."""
    from qengine_kubernetes.export import export_job

    return export_job(job, directory) or None
