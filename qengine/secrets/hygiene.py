"""Process hygiene: no core dumps, private per-job temporary files, explicit child environments."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import resource
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping

DEFAULT_ENV_ALLOWLIST = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def disable_core_dumps() -> None:
    """Set this process's core-file size limit to 0 (soft and hard), so a crash dumps no memory.

    Lowering a limit needs no privilege; it is inherited by every child process.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@contextlib.contextmanager
def private_tempdir(job_id: str, *, base: pathlib.Path | None = None) -> Iterator[pathlib.Path]:
    """A directory (0700) for one job's temporary files, removed on exit, even on error.

    Write files holding secrets in it with :func:`write_private_file`. Removal happens when
    the ``with`` block ends for any reason, cancellation (an exception) included.
    """
    prefix = f"qengine-{_UNSAFE.sub('_', job_id)[:40]}-"
    path = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_private_file(directory: pathlib.Path, name: str, data: bytes) -> pathlib.Path:
    """Create ``directory/name`` with mode 0600 (never following or replacing a file)."""
    if "/" in name or name in ("", ".", ".."):
        raise ValueError(f"invalid file name {name!r}")
    path = directory / name
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def child_env(
    base_allowlist: Iterable[str] = DEFAULT_ENV_ALLOWLIST,
    extra: Mapping[str, str] | None = None,
    *,
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """An explicit environment for a subprocess: allow-listed host variables plus ``extra``.

    ``source`` defaults to ``os.environ`` (read, never written). Pass the result as ``env=``;
    a secret goes into ``extra`` for the one child that needs it, never into ``os.environ``.
    """
    host = os.environ if source is None else source
    env = {name: host[name] for name in base_allowlist if name in host}
    env.update(extra or {})
    return env
