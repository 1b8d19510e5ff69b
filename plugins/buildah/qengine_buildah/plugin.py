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
    from qengine_oci.builds import missing_registry

    return missing_registry(job, BuildahBuild)


@hookimpl
def qengine_plan_steps(job: Job, services: JobServices) -> list[Step] | None:
    """``build/<service>`` steps for the application services of a buildah job."""
    from qengine_oci.builds import registry_of

    registry = registry_of(job, BuildahBuild)
    if registry is None:
        return None  # not a buildah job, or one refused by qengine_check_job
    from qengine_buildah.steps import steps_for

    assert isinstance(job, EnvironmentJob)
    assert isinstance(job.build, BuildahBuild)
    settings = services.settings.get("buildah")
    return steps_for(
        job,
        job.build,
        registry,
        services.secrets.open,
        settings if isinstance(settings, dict) else {},
    )
