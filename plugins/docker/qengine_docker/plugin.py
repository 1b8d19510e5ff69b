"""Hook implementations of qengine-docker: the ``docker`` build backend.

The engine builds :class:`~qengine_docker.backend.DockerBackend` from the job's ``build``
section (its engine address, unless the host's :class:`~qengine_docker.spec.DockerSettings`
overrides it); the core's build steps (:mod:`qengine.source.pipeline`) use it. docker-py is
imported only when a build runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qengine import hookimpl

if TYPE_CHECKING:
    from qengine.plugin import BuildBackend, JobServices, Registry
    from qengine_docker.spec import DockerBuild


def _backend(section: DockerBuild, services: JobServices) -> BuildBackend:
    from qengine_docker.backend import DockerBackend
    from qengine_docker.spec import DockerSettings

    settings = services.settings_for("docker", DockerSettings) or DockerSettings()
    return DockerBackend(host=settings.host or section.host)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``docker`` build backend."""
    registry.add_build_backend(
        "docker",
        "qengine_docker.spec:DockerBuild",
        _backend,
        "builds through a Docker Engine API (Docker, Podman)",
    )
