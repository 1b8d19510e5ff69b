"""The steps of every action: read what the files hold, then make each file what it should be.

Every action plans the same steps, so rollback and resume work alike for all of them:

``directory/snapshot``
    reads the files the job is about to change and hands their content on as its outputs,
    which the runner journals before any file is written ("" for a file that does not exist).
``directory/service/<name>``
    makes one service's file hold its new content ("" removes the file), and writes nothing
    when the file holds it already, so a no-op deploy changes nothing. ``compensate`` puts back
    what the snapshot read; ``reconcile``, for a step a crash left in flight, finds the work
    done when the file holds the new content. The file of a service the job builds from source
    records the image its ``build/<name>`` step made, so that step runs first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import attrs

from qengine.plugin import Change, ChangeAction, ReconcileResult, Step, StepContext
from qengine_directory.files import ServiceFile, read_text, replace
from qengine_directory.spec import NAME

SNAPSHOT = f"{NAME}/snapshot"


def snapshot_step(paths: Mapping[str, Path]) -> Step:
    """The step that reads the current content of ``paths`` (by service name)."""

    def run(_ctx: StepContext) -> dict[str, str]:
        return {name: read_text(path) for name, path in paths.items()}

    return Step(
        id=SNAPSHOT,
        description="read the files the job changes",
        content_hash=_digest(*(str(path) for path in paths.values())),
        run=run,
    )


def file_step(
    name: str, path: Path, new: ServiceFile | None, *, current: str, built_by: str = ""
) -> Step:
    """The step that makes ``path`` hold ``new`` (None: no file), with the ``image`` output of
    step ``built_by`` when given; ``current`` is what the file held when planned."""

    def text(ctx: StepContext) -> str:
        if new is None:
            return ""
        image = ctx.input(built_by, "image") if built_by else new.image
        return attrs.evolve(new, image=image).text()

    def run(ctx: StepContext) -> dict[str, str]:
        before, after = read_text(path), text(ctx)
        if before != after:
            replace(path, after)
            ctx.emit_resource_changed(_action(before, after), "file", str(path))
        return {}

    def compensate(ctx: StepContext) -> None:
        replace(path, ctx.input(SNAPSHOT, name))

    def reconcile(ctx: StepContext) -> ReconcileResult:
        return ReconcileResult.done() if read_text(path) == text(ctx) else ReconcileResult.redo()

    action = _action(current, _expected(path, new, current, built_by))
    change = Change(action=action, kind="file", name=str(path))
    unchanged = action is ChangeAction.NONE
    return Step(
        id=f"{NAME}/service/{name}",
        depends_on=(SNAPSHOT, built_by) if built_by else (SNAPSHOT,),
        description=f"{name}: {'no change' if unchanged else change.describe()}",
        changes=() if unchanged else (change,),
        # What the job asks for, not what the directory holds: the same job planned again
        # after it ran must give the same key, or a rerun would redo the step.
        content_hash=_digest(str(path), "" if new is None else new.text(), built_by),
        run=run,
        compensate=compensate,
        reconcile=reconcile,
    )


def _expected(path: Path, new: ServiceFile | None, current: str, built_by: str) -> str:
    """What the file will hold, as far as planning can tell: a build is expected to give the
    image the file records already (it does when the source has not changed)."""
    if new is None:
        return ""
    if built_by and current:
        return attrs.evolve(new, image=ServiceFile.parse(path, current).image).text()
    return new.text()


def _action(before: str, after: str) -> ChangeAction:
    if before == after:
        return ChangeAction.NONE
    if not before:
        return ChangeAction.CREATE
    return ChangeAction.DELETE if not after else ChangeAction.UPDATE


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
