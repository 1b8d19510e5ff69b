"""Hook implementations of qengine-buildah.

The factory returns :class:`~qengine_buildah.backend.BuildahBackend` (keyword arguments:
``on_line``, ``layers``, ``temp_base``). Environment jobs whose ``build`` section is
``buildah`` get one ``build/<service>`` step per application service (output ``image``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from qengine import SpecIssue, hookimpl
from qengine._plugins import Registry
from qengine.spec import EnvironmentJob, Job
from qengine_buildah.spec import BuildahBuild

if TYPE_CHECKING:
    from qengine._engine import JobServices
    from qengine.runner import Step


def _backend_class() -> object:
    return importlib.import_module("qengine_buildah.backend").BuildahBackend


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``buildah`` build backend."""
    registry.add_build_backend(
        "buildah", BuildahBuild, _backend_class, "daemonless builds with buildah (chroot, vfs)"
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """A buildah build needs an ``oci`` registry section to push to."""
    if not isinstance(job, EnvironmentJob) or not isinstance(job.build, BuildahBuild):
        return []
    from qengine_oci.spec import OciRegistry

    if isinstance(job.registry, OciRegistry):
        return []
    return [
        SpecIssue(
            path="$.registry",
            message="a buildah build pushes to an 'oci' registry section, and the job has none",
        )
    ]


@hookimpl
def qengine_plan_steps(job: Job, services: JobServices) -> list[Step] | None:
    """``build/<service>`` steps for the application services of a buildah job."""
    if not isinstance(job, EnvironmentJob) or not isinstance(job.build, BuildahBuild):
        return None
    from qengine_oci.spec import OciRegistry

    from qengine_buildah.steps import steps_for

    if not isinstance(job.registry, OciRegistry):
        return None  # refused by qengine_check_job
    settings = services.settings.get("buildah")
    return steps_for(
        job,
        job.build,
        job.registry,
        services.secrets.open,
        settings if isinstance(settings, dict) else {},
    )
