"""The embedded default state store: a SQLite file in the state directory.

The journal is write-ahead: the runner records a step as ``started`` (with its idempotency
key) before running it and as ``succeeded``/``failed``/... after, and each record is
committed before :meth:`SqliteStateStore.record_step` returns.

Durability. The database runs in WAL mode. With ``synchronous="normal"`` (the default) a
commit is in the operating system's hands when it returns: it survives the death of the
process (``kill -9``, a crash), which is what resume is for, but the last commits before a
power loss or kernel crash may be lost. Losing a ``started`` record that way is safe (the step
runs again under the same idempotency key); losing a ``succeeded`` record makes the step run
again. ``synchronous="full"`` fsyncs every commit and survives power loss, at a cost of one
fsync per journal write (see ``benchmarks/bench_runner.py``).

Locks live in the same file, one row per target, with the holder's pid, host and process
start time; a row whose holder provably died is taken over inside an IMMEDIATE transaction,
so two processes cannot both take it over.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.state import LockHolder, StateStore, StepRecord, StepState
from qengine.runner.events import utc_timestamp
from qengine.runner.liveness import ProcessIdentity, holder_is_alive
from qengine.runner.lockwait import wait_for_lock
from qengine.secrets._filemode import private_data_file, trusted_directory

__all__ = ["DATABASE_NAME", "SqliteStateStore"]

DATABASE_NAME = "qengine.sqlite3"

_SCHEMA = (
    # WITHOUT ROWID: one B-tree, so a journal write touches one page, not a table and an index.
    """CREATE TABLE IF NOT EXISTS steps (
        job_id TEXT NOT NULL, step_id TEXT NOT NULL, first_recorded INTEGER NOT NULL,
        idempotency_key TEXT NOT NULL, status TEXT NOT NULL, outputs TEXT NOT NULL,
        error TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (job_id, step_id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS locks (
        target TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL,
        host TEXT NOT NULL, process_started TEXT NOT NULL, acquired_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS accepted_jobs (
        job_id TEXT PRIMARY KEY, accepted_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS finished_jobs (
        job_id TEXT PRIMARY KEY, status TEXT NOT NULL, finished_at TEXT NOT NULL)""",
)

_UPSERT_STEP = """INSERT INTO steps
    (job_id, step_id, first_recorded, idempotency_key, status, outputs, error, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (job_id, step_id) DO UPDATE SET idempotency_key = excluded.idempotency_key,
    status = excluded.status, outputs = excluded.outputs, error = excluded.error,
    updated_at = excluded.updated_at"""


class SqliteStateStore(StateStore):
    """Journal, locks and accepted jobs in ``state_dir/qengine.sqlite3``.

    One connection per store, serialised by a lock, so one store may be shared by threads;
    several processes may open the same file. ``state_dir`` is created (0700) if missing.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        synchronous: Literal["normal", "full"] = "normal",
        lock_poll_seconds: float = 0.2,
    ) -> None:
        self.path = _prepare(state_dir) / DATABASE_NAME
        # 0600 and no planted link; SQLite gives its -wal and -shm files the database's mode.
        private_data_file(self.path, *(self.path.with_name(DATABASE_NAME + x) for x in _SIDE))
        self._poll = lock_poll_seconds
        self._me = ProcessIdentity.current()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        with self._lock:
            for statement in _SCHEMA:
                self._db.execute(statement)

    def record_step(self, record: StepRecord) -> None:
        """Upsert the step's record; committed (autocommit) before returning."""
        with self._lock:
            self._db.execute(_UPSERT_STEP, _row(record))

    def record_steps(self, records: Sequence[StepRecord]) -> None:
        """Upsert all of ``records`` in one transaction, committed before returning."""
        rows = [_row(record) for record in records]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_UPSERT_STEP, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def step_records(self, job_id: str) -> Sequence[StepRecord]:
        """The job's records, in the order first recorded."""
        with self._lock:
            rows = self._db.execute(
                "SELECT step_id, idempotency_key, status, outputs, error FROM steps "
                "WHERE job_id = ? ORDER BY first_recorded, step_id",
                (job_id,),
            ).fetchall()
        return [_record(job_id, row) for row in rows]

    def acquire_lock(
        self,
        target: str,
        owner: str,
        *,
        wait_seconds: float = 0.0,
        cancel: CancelToken | None = None,
    ) -> None:
        """See :meth:`StateStore.acquire_lock`; a dead holder's row is replaced atomically."""
        wait_for_lock(
            lambda: self._try_lock(target, owner),
            wait_seconds=wait_seconds,
            cancel=cancel,
            poll_seconds=self._poll,
        )

    def release_lock(self, target: str, owner: str) -> None:
        """Delete the lock row if this process holds it for ``owner``."""
        with self._lock:
            self._db.execute(
                "DELETE FROM locks WHERE target = ? AND owner = ? AND pid = ? AND host = ?",
                (target, owner, self._me.pid, self._me.host),
            )

    def lock_holder(self, target: str) -> LockHolder | None:
        """The lock row of ``target``, or None."""
        with self._lock:
            return self._holder(target)

    def accept_job_once(self, job_id: str) -> bool:
        """Insert ``job_id``; the primary key makes exactly one insert succeed, ever."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO accepted_jobs (job_id, accepted_at) VALUES (?, ?)",
                (job_id, utc_timestamp()),
            )
        return cursor.rowcount == 1

    def finish_job(self, job_id: str, status: str) -> None:
        """Upsert the job's final status."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO finished_jobs (job_id, status, finished_at) "
                "VALUES (?, ?, ?)",
                (job_id, status, utc_timestamp()),
            )

    def job_status(self, job_id: str) -> str | None:
        """The recorded final status, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT status FROM finished_jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def _holder(self, target: str) -> LockHolder | None:
        row = self._db.execute(
            "SELECT owner, pid, host, process_started, acquired_at FROM locks WHERE target = ?",
            (target,),
        ).fetchone()
        if row is None:
            return None
        owner, pid, host, started, acquired = row
        return LockHolder(
            target=target,
            owner=owner,
            pid=pid,
            host=host,
            process_started=started,
            acquired_at=acquired,
        )

    def _try_lock(self, target: str, owner: str) -> LockHolder | None:
        """Take the lock unless a live holder has it; return that holder, or None if taken."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                holder = self._holder(target)
                if holder is not None and _alive(holder):
                    self._db.execute("ROLLBACK")
                    return holder
                self._db.execute(
                    "INSERT OR REPLACE INTO locks VALUES (?, ?, ?, ?, ?, ?)",
                    (target, owner, self._me.pid, self._me.host, self._me.started, utc_timestamp()),
                )
                self._db.execute("COMMIT")
                return None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise


def _alive(holder: LockHolder) -> bool:
    identity = ProcessIdentity(pid=holder.pid, host=holder.host, started=holder.process_started)
    return holder_is_alive(identity)


_SIDE = ("-wal", "-shm", "-journal")


def _prepare(state_dir: Path) -> Path:
    return trusted_directory(state_dir)


def _row(record: StepRecord) -> tuple[str, str, int, str, str, str, str, str]:
    outputs = json.dumps(dict(record.outputs), sort_keys=True)
    # An upsert keeps first_recorded: the nanosecond clock orders first records.
    return (
        record.job_id,
        record.step_id,
        time.time_ns(),
        record.idempotency_key,
        record.status.value,
        outputs,
        record.error,
        utc_timestamp(),
    )


def _record(job_id: str, row: tuple[str, str, str, str, str]) -> StepRecord:
    step_id, key, status, outputs, error = row
    decoded: Mapping[str, str] = json.loads(outputs)
    return StepRecord(
        job_id=job_id,
        step_id=step_id,
        idempotency_key=key,
        status=StepState(status),
        outputs=decoded,
        error=error,
    )
