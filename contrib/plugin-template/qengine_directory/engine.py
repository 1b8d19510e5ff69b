"""The environment engine of the ``directory`` target: every action rewrites service files.

The engine is built once per job, by the factory registered in ``plugin.py``, while the job is
planned. Planning only reads the directory; the steps (``steps.py``) write it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import EnvEngine, InvalidInputError
from qengine.spec import ApplicationService
from qengine_directory.files import ServiceFile, read_text
from qengine_directory.settings import target_directory
from qengine_directory.steps import file_step, snapshot_step

if TYPE_CHECKING:
    from qengine.plugin import JobServices, Step
    from qengine.spec import EnvironmentJob, Service
    from qengine_directory.spec import DirectoryTarget

Rewrite = Callable[[str, ServiceFile | None], ServiceFile | None]
"""What an action makes of one service's file: (service name, current file) -> new file, or
None to remove it."""


class DirectoryEngine(EnvEngine):
    """Writes ``<path>/<environment>/<service>.json`` for the services a job selects."""

    def __init__(self, section: DirectoryTarget, services: JobServices) -> None:
        self._root = target_directory(section, services)

    def deploy(self, job: EnvironmentJob) -> Sequence[Step]:
        """Write each selected service's file; what pause and restart recorded is kept."""
        specs: dict[str, Service] = {service.name: service for service in job.environment.services}

        def deployed(name: str, old: ServiceFile | None) -> ServiceFile:
            new = ServiceFile.of(job.environment.name, specs[name])
            if old is None:
                return new
            return attrs.evolve(new, paused=old.paused, restarted_by=old.restarted_by)

        return self._plan(job, _selected(job), deployed, built=_built(job))

    def pause(self, job: EnvironmentJob) -> Sequence[Step]:
        """Record ``"paused": true`` in each selected service's file."""
        return self._plan(job, _selected(job), lambda n, old: _paused(n, old, paused=True))

    def resume(self, job: EnvironmentJob) -> Sequence[Step]:
        """Record ``"paused": false`` in each selected service's file."""
        return self._plan(job, _selected(job), lambda n, old: _paused(n, old, paused=False))

    def restart(self, job: EnvironmentJob) -> Sequence[Step]:
        """Record the job's id as ``restartedBy``: a watcher rolls the service when it changes."""

        def restarted(name: str, old: ServiceFile | None) -> ServiceFile:
            return attrs.evolve(_deployed(name, old), restarted_by=job.id)

        return self._plan(job, _selected(job), restarted)

    def delete(self, job: EnvironmentJob) -> Sequence[Step]:
        """Remove the selected services' files (all of the environment's, when none is named,
        including those of services no longer in the spec)."""
        names = _selected(job)
        if not job.services:
            found = (self._root / job.environment.name).glob("*.json")
            names = sorted({*names, *(path.stem for path in found)})
        return self._plan(job, names, lambda _name, _old: None)

    def _plan(
        self,
        job: EnvironmentJob,
        names: Sequence[str],
        rewrite: Rewrite,
        built: Collection[str] = (),
    ) -> list[Step]:
        folder = self._root / job.environment.name
        paths = {name: folder / f"{name}.json" for name in names}
        steps = [snapshot_step(paths)]
        for name, path in paths.items():
            current = read_text(path)
            new = rewrite(name, ServiceFile.parse(path, current) if current else None)
            build = f"build/{name}" if name in built else ""
            steps.append(file_step(name, path, new, current=current, built_by=build))
        return steps


def _built(job: EnvironmentJob) -> set[str]:
    """The services a deploy builds from source: the engine plans a ``build/<name>`` step for
    each ``application`` service of a job with a ``build`` section."""
    if job.build is None:
        return set()
    return {s.name for s in job.environment.services if isinstance(s, ApplicationService)}


def _selected(job: EnvironmentJob) -> list[str]:
    """The names of the services the job is about (all of them when it names none)."""
    names = [service.name for service in job.environment.services]
    return [name for name in names if not job.services or name in job.services]


def _paused(name: str, old: ServiceFile | None, *, paused: bool) -> ServiceFile:
    return attrs.evolve(_deployed(name, old), paused=paused)


def _deployed(name: str, old: ServiceFile | None) -> ServiceFile:
    """The service's current file; InvalidInputError (nothing runs) when it has none."""
    if old is None:
        raise InvalidInputError(
            f"the service {name!r} has no file to record its state in",
            hint="Deploy the service first.",
        )
    return old
