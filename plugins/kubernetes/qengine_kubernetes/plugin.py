"""Hook implementations of qengine-kubernetes: targets, options, checks, sandbox and export.

Each target (``kubeconfig``, ``in-cluster``, ``sandbox``) is registered with a factory building
a :class:`~qengine_kubernetes.engine.KubernetesEnvEngine` (imported when a job needs it): the
engine plans the jobs of those targets through it. No Kubernetes SDK is imported here
(rendering is plain data); the modules behind each hook are imported when the hook is called,
so loading the plugin stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qengine.plugin import Registry, SpecIssue, hookimpl

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping
    from pathlib import Path

    from qengine.plugin import EnvEngine, JobServices, SandboxSession
    from qengine.spec import Job
    from qengine_kubernetes.settings import KubeSettings
    from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget, SandboxTarget


def _engine(
    section: KubeconfigTarget | InClusterTarget | SandboxTarget, services: JobServices
) -> EnvEngine:
    from qengine_kubernetes.engine import KubernetesEnvEngine

    return KubernetesEnvEngine(section, services)


_TARGET_KINDS = frozenset({"kubeconfig", "in-cluster", "sandbox"})


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the kubeconfig, in-cluster and sandbox targets."""
    registry.add_target(
        "kubeconfig",
        "qengine_kubernetes.spec:KubeconfigTarget",
        _engine,
        "a cluster reached through a kubeconfig file",
    )
    registry.add_target(
        "in-cluster",
        "qengine_kubernetes.spec:InClusterTarget",
        _engine,
        "the cluster the engine runs in (service account)",
    )
    registry.add_target(
        "sandbox",
        "qengine_kubernetes.spec:SandboxTarget",
        _engine,
        "the embedded Kubernetes API simulator",
    )


@hookimpl
def qengine_add_options(parser: argparse.ArgumentParser) -> None:
    """``--kubeconfig FILE`` and ``--context NAME`` (group ``kubernetes``)."""
    from qengine_kubernetes.options import add_options

    add_options(parser)


@hookimpl
def qengine_engine_settings(options: Mapping[str, object]) -> dict[str, KubeSettings] | None:
    """The cluster ``--kubeconfig`` names, as this plugin's settings."""
    from qengine_kubernetes.options import engine_settings

    return engine_settings(options)


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """Refuse environment jobs whose services cannot become valid Kubernetes objects."""
    target = getattr(job, "target", None)  # only environment jobs have one
    if target is None or target.kind not in _TARGET_KINDS:
        return []  # the checks and the renderer are imported only for a job bound here
    from qengine_kubernetes.checks import check_job

    return check_job(job)


@hookimpl
def qengine_sandbox(
    job: Job, session: SandboxSession, settings: Mapping[str, object]
) -> dict[str, KubeSettings] | None:
    """A sandbox environment job runs against the session's cluster, or a new simulator; the
    host's other settings (helm, chart root, limits) are kept."""
    from qengine_kubernetes.sandbox import sandbox_settings
    from qengine_kubernetes.settings import PLUGIN, KubeSettings

    host = settings.get(PLUGIN)
    sandboxed = sandbox_settings(job, session, host if isinstance(host, KubeSettings) else None)
    return None if sandboxed is None else {PLUGIN: sandboxed}


@hookimpl
def qengine_export(job: Job, directory: Path) -> list[str] | None:
    """A Helm chart of the environment, secret values as placeholders."""
    from qengine_kubernetes.export import export_job

    return export_job(job, directory) or None
