"""Hook implementations of qengine-addons (registration and checks only).

The ``existing`` cloud provider: a cluster qengine did not create, whose add-on stack an
infrastructure job installs, upgrades and uninstalls (``ExistingInfraEngine(section,
services)``, imported when a job needs it). Loading the plugin imports neither the stack nor
the Kubernetes plugin's client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from qengine.plugin import Registry, SpecIssue, hookimpl
from qengine.spec import InfrastructureJob, Job

if TYPE_CHECKING:
    from qengine.plugin import InfraEngine, JobServices, SandboxSession
    from qengine_addons.existing import ExistingCluster

KIND = "existing"


def _infra_engine(section: ExistingCluster, services: JobServices) -> InfraEngine:
    from qengine_addons.existing_engine import ExistingInfraEngine

    return ExistingInfraEngine(section, services)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``existing`` cloud provider."""
    registry.add_cloud_provider(
        KIND,
        "qengine_addons.existing:ExistingCluster",
        _infra_engine,
        "a cluster qengine did not create: its add-on stack only",
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """Refuse pause, resume, the autoscaler and add-ons without the cloud identity they need."""
    if not _existing(job):
        return []
    from qengine_addons.existing_checks import check_job

    assert isinstance(job, InfrastructureJob)
    return check_job(job)


@hookimpl
def qengine_sandbox(
    job: Job, session: SandboxSession, settings: Mapping[str, object]
) -> dict[str, object] | None:
    """A sandbox run of an ``existing`` cluster job: the session's cluster, or a new
    simulator, with the stack's test charts."""
    if not _existing(job):
        return None
    from qengine_addons.existing_sandbox import sandbox_settings

    found = sandbox_settings(job, session, settings)
    return None if found is None else dict(found)


def _existing(job: Job) -> bool:
    return isinstance(job, InfrastructureJob) and job.cluster.provider.kind == KIND
