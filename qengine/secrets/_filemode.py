"""Private files and directories: refuse ones others can read or change, make new ones 0600
(files) or 0700 (directories), and never follow a symbolic link someone could have planted."""

from __future__ import annotations

import logging
import os
import pathlib
import stat
import tempfile

from qengine._errors import InvalidInputError, SecretError

_LOG = logging.getLogger("qengine")


def trusted_directory(path: pathlib.Path, what: str = "state directory") -> pathlib.Path:
    """Create ``path`` (0700) if missing; refuse it unless this user owns it and neither group
    nor others may write to it. Group or other read access is removed, with a warning.

    Raises :class:`~qengine.InvalidInputError` (exit 2) naming the directory and why.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.stat(path)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot create the {what} {path}: {exc.strerror}",
            hint="Pass --state-dir with a writable directory, or set QENGINE_STATE_DIR.",
        ) from exc
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISDIR(info.st_mode):
        raise InvalidInputError(f"the {what} {path} is not a directory")
    if info.st_uid != os.geteuid():
        raise InvalidInputError(
            f"the {what} {path} is owned by uid {info.st_uid}, not by this user; refusing it",
            hint="Give the engine a state directory of its own user (mode 0700).",
        )
    if mode & 0o022:
        raise InvalidInputError(
            f"the {what} {path} may be written by group or others (mode {mode:04o}); "
            "refusing it: its journal, locks, keys and audit log could have been planted",
            hint=f"Check its content, then `chmod 700 {path}`, or use a new directory.",
        )
    if mode & 0o077:
        os.chmod(path, 0o700)
        _LOG.warning("the %s %s was readable by others (mode %04o): now 0700", what, path, mode)
    return path


def private_data_file(path: pathlib.Path, *companions: pathlib.Path) -> None:
    """Make ``path`` exist as a regular 0600 file (not a symbolic link), and make the
    ``companions`` that exist (a database's -wal and -shm files) 0600 regular files too."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot open {path} safely: {exc.strerror}"
            + (" (it is a symbolic link)" if path.is_symlink() else ""),
            hint="Remove what is not the engine's own file from its state directory.",
        ) from exc
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for companion in companions:
        if companion.is_symlink():
            raise InvalidInputError(
                f"{companion} is a symbolic link; refusing it",
                hint="Remove what is not the engine's own file from its state directory.",
            )
        if companion.exists():
            os.chmod(companion, 0o600)


def check_private_file(path: pathlib.Path, what: str) -> None:
    """Refuse ``path`` unless it is a regular file owned by us with no group/other access.

    Raises :class:`SecretError` naming the file and its mode, never its content.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError as exc:
        raise SecretError(f"{what} {path} does not exist") from exc
    if stat.S_ISLNK(info.st_mode):
        raise SecretError(
            f"{what} {path} is a symbolic link; refusing it",
            hint="Keep the file itself there (a link could point anywhere).",
        )
    if not stat.S_ISREG(info.st_mode):
        raise SecretError(f"{what} {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise SecretError(
            f"{what} {path} is accessible by group or others (mode {mode:04o}); refusing it",
            hint=f"Run `chmod 600 {path}` if the file has not been exposed; otherwise rotate it.",
        )
    if info.st_uid != os.geteuid():
        raise SecretError(
            f"{what} {path} is owned by uid {info.st_uid}, not by this user; refusing it",
            hint="Run the engine as the user that owns its key files.",
        )


def read_private_file(path: pathlib.Path, what: str) -> bytes:
    """Read a file after :func:`check_private_file` accepted it."""
    check_private_file(path, what)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def write_private_file(path: pathlib.Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (temp file, fsync, rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: pathlib.Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
