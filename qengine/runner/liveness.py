"""Is a lock's holder process still alive? Pid, host and process start time decide.

A pid alone is not enough: after a holder dies, the kernel may hand its pid to an unrelated
process. The holder's start time (``/proc/<pid>/stat``, field 22, in clock ticks since boot)
tells the two apart. A holder on another host cannot be probed and is presumed alive.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import attrs

__all__ = ["ProcessIdentity", "holder_is_alive"]


def _stat_fields(pid: int) -> list[str]:
    """Fields 3 onwards of ``/proc/<pid>/stat`` (state first), or [] where /proc cannot say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return stat[stat.rfind(")") + 2 :].split()


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot, or "" where /proc cannot say."""
    fields = _stat_fields(pid)
    return fields[19] if len(fields) > 19 else ""


@attrs.frozen(kw_only=True)
class ProcessIdentity:
    """A process as a lock records it."""

    pid: int
    host: str
    started: str

    @classmethod
    def current(cls) -> ProcessIdentity:
        """This process."""
        pid = os.getpid()
        return cls(pid=pid, host=socket.gethostname(), started=_start_time(pid))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder_is_alive(holder: ProcessIdentity) -> bool:
    """False only when ``holder`` provably died: same host, and its pid is gone or reused."""
    if holder.host != socket.gethostname():
        return True
    if holder.pid <= 0 or not _pid_alive(holder.pid):
        return False
    fields = _stat_fields(holder.pid)
    if fields and fields[0] in ("Z", "X"):
        return False  # a zombie: dead, waiting for its parent to reap it
    started = fields[19] if len(fields) > 19 else ""
    return not (holder.started and started and started != holder.started)
