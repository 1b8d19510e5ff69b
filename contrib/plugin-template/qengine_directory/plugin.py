"""Hook implementations only: what the plugin provides, its options, its sandbox.

Loading this module is cheap: the engine and its steps are imported by the factory, when a job
needs them (a plugin with a cloud SDK imports the SDK there, never at module level).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from qengine.plugin import SessionKey, hookimpl
from qengine.spec import EnvironmentJob
from qengine_directory.settings import DirectorySettings
from qengine_directory.spec import NAME, DirectoryTarget

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping
    from contextlib import ExitStack

    from qengine.plugin import EnvEngine, JobServices, Registry, SandboxSession
    from qengine.spec import Job

ROOT_OPTION = f"{NAME}_root"
#: The sandbox directory of a session, shared by its jobs (a deploy, then a pause...).
SANDBOX_ROOT = SessionKey(f"{NAME}.sandbox", Path)


def build_engine(section: DirectoryTarget, services: JobServices) -> EnvEngine:
    """The factory: the environment engine of one job (reads the directory, writes nothing)."""
    from qengine_directory.engine import DirectoryEngine

    return DirectoryEngine(section, services)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``directory`` target."""
    registry.add_target(
        NAME, DirectoryTarget, build_engine, "an environment as files, one per service"
    )


@hookimpl
def qengine_add_options(parser: argparse.ArgumentParser) -> None:
    """``--directory-root DIR``: where the targets of this engine may write."""
    group = parser.add_argument_group(NAME)
    group.add_argument(
        f"--{NAME}-root",
        dest=ROOT_OPTION,
        type=Path,
        metavar="DIR",
        help=f"refuse {NAME} targets whose path is not under DIR",
    )


@hookimpl
def qengine_engine_settings(options: Mapping[str, object]) -> dict[str, DirectorySettings] | None:
    """``--directory-root`` as this plugin's settings (None when it is not given)."""
    root = options.get(ROOT_OPTION)
    if not isinstance(root, Path):
        return None
    return {NAME: DirectorySettings(root=root.expanduser().resolve())}


@hookimpl
def qengine_sandbox(
    job: Job, stack: ExitStack, session: SandboxSession
) -> dict[str, DirectorySettings] | None:
    """A sandbox run writes under a temporary directory of the session, removed with it."""
    if not isinstance(job, EnvironmentJob) or not isinstance(job.target, DirectoryTarget):
        return None
    root = session.get(SANDBOX_ROOT)
    if root is None:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"qengine-{NAME}-")))
        session.put(SANDBOX_ROOT, root)
    return {NAME: DirectorySettings(sandbox=root)}
