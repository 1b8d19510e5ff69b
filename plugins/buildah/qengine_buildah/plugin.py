"""Hook implementations of qengine-buildah: the ``buildah`` build backend.

The engine builds :class:`~qengine_buildah.backend.BuildahBackend` from the job's ``build``
section and the engine's :class:`~qengine.source.BuildSettings` (``temp_base``); the core's
build steps (:mod:`qengine.source.pipeline`) use it. Its module is imported only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qengine import hookimpl

if TYPE_CHECKING:
    from qengine.plugin import BuildBackend, JobServices, Registry
    from qengine_buildah.spec import BuildahBuild


def _backend(section: BuildahBuild, services: JobServices) -> BuildBackend:
    from qengine.source import BUILD_SETTINGS, BuildSettings
    from qengine_buildah.backend import BuildahBackend

    settings = services.settings_for(BUILD_SETTINGS, BuildSettings) or BuildSettings()
    return BuildahBackend(layers=section.layers, temp_base=settings.temp_base)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``buildah`` build backend."""
    registry.add_build_backend(
        "buildah",
        "qengine_buildah.spec:BuildahBuild",
        _backend,
        "daemonless builds with buildah (chroot, vfs)",
    )
