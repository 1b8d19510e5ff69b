"""Hook implementations of qengine-docker.

The factory returns :class:`~qengine_docker.backend.DockerBackend` (keyword arguments:
``on_line``, ``host``). Environment jobs whose ``build`` section is
``docker`` get one ``build/<service>`` step per application service (output ``image``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from qengine import SpecIssue, hookimpl
from qengine._plugins import Registry
from qengine.spec import EnvironmentJob, Job
from qengine_docker.spec import DockerBuild

if TYPE_CHECKING:
    from qengine._engine import JobServices
    from qengine.runner import Step


def _backend_class() -> object:
    return importlib.import_module("qengine_docker.backend").DockerBackend


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``docker`` build backend."""
    registry.add_build_backend(
        "docker", DockerBuild, _backend_class, "builds through a Docker Engine API (Docker, Podman)"
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """A docker build needs an ``oci`` registry section to push to."""
    from qengine_oci.builds import missing_registry

    return missing_registry(job, DockerBuild)


@hookimpl
def qengine_plan_steps(job: Job, services: JobServices) -> list[Step] | None:
    """``build/<service>`` steps for the application services of a docker job."""
    from qengine_oci.builds import registry_of

    registry = registry_of(job, DockerBuild)
    if registry is None:
        return None  # not a docker job, or one refused by qengine_check_job
    from qengine_docker.steps import steps_for

    assert isinstance(job, EnvironmentJob)
    assert isinstance(job.build, DockerBuild)
    settings = services.settings.get("docker")
    return steps_for(
        job,
        job.build,
        registry,
        services.secrets.open,
        settings if isinstance(settings, dict) else {},
    )
