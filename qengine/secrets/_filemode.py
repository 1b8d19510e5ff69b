"""Private files: refuse ones others can read, write new ones 0600 atomically."""

from __future__ import annotations

import os
import pathlib
import stat
import tempfile

from qengine._errors import SecretError


def check_private_file(path: pathlib.Path, what: str) -> None:
    """Refuse ``path`` unless it is a regular file owned by us with no group/other access.

    Raises :class:`SecretError` naming the file and its mode, never its content.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise SecretError(f"{what} {path} does not exist") from exc
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
    return path.read_bytes()


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
