"""Paths a job names (build context, Dockerfile) must stay inside the checkout."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from qengine._errors import InvalidInputError


def inside_checkout(root: Path, relative: str, *, what: str) -> Path:
    """``root/relative`` resolved, refusing anything that leaves ``root``.

    Refused: an absolute path, a ``..`` component, a path that does not exist, and a path
    whose resolution (symlinks followed, at any depth) lands outside ``root``. The returned
    path is the resolved one, so later use cannot be redirected by the link again.
    """
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts:
        raise InvalidInputError(
            f"the {what} {relative!r} is not a relative path inside the repository",
            hint="Write it relative to the repository root, without '..' (e.g. 'app/Dockerfile').",
        )
    base = root.resolve(strict=True)
    try:
        resolved = (base / pure).resolve(strict=True)
    except (FileNotFoundError, RuntimeError) as exc:  # missing, or a symlink loop
        raise InvalidInputError(
            f"the {what} {relative!r} does not exist at this commit",
            hint="Check the path and the commit; paths are relative to the repository root.",
        ) from exc
    if resolved != base and not resolved.is_relative_to(base):
        raise InvalidInputError(
            f"the {what} {relative!r} leads outside the repository (through a symlink)",
            hint="Point it at a real directory or file of the repository, not a link out of it.",
        )
    return resolved
