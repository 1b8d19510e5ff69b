"""A shared state store in PostgreSQL, for many engines on many machines (psycopg 3).

The journal, the replay ledger and job statuses are the SQLite store's tables, shared. Target
locks are **leases** instead of pid checks, since a holder on another machine cannot be probed:

- a lock row names its holder (a random id per store, with pid and host for people), the
  owning job, a lease expiry and a **fencing token** (from a sequence, so it only grows);
- a heartbeat thread renews every lease this store holds, every ``lease_seconds / 3``;
- another store takes a lock over only once its lease has lapsed, by PostgreSQL's clock
  (one clock for every worker: their own clocks may drift);
- every journal write of a job that holds a lease checks, in the write's transaction, that
  the lock row still carries this store's token (``FOR SHARE``, so a takeover waits for the
  write or the write sees the takeover). A store whose lease was taken over (a worker paused
  past its lease, cut off from the database) gets :class:`LeaseLostError` on its next write
  and cancels the job it ran; it never journals a step, a rollback or a final status after
  the takeover. Work a step already sent to a cluster before that point is not undone by this
  store: the new holder resumes the job from the journal and converges it.

The schema is created and migrated by the store (a version table, under an advisory lock, so
workers starting together do not race). Credentials never come from argv: the URL must not
carry a password; it comes from ``password_file``, or from libpq's own sources in the
worker's environment (``PGPASSFILE`` / ``~/.pgpass``, ``PGPASSWORD``). TLS is configured by
libpq's URL parameters (``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``).

psycopg is imported when a store is made, never by ``qengine validate``.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import attrs

from qengine._errors import AuthError, InvalidInputError, TargetLockedError, TransientError
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.state import LockHolder, StateStore, StepRecord, StepState
from qengine.runner.lockwait import wait_for_lock

if TYPE_CHECKING:
    import psycopg

__all__ = ["SCHEMA_VERSION", "LeaseLostError", "PostgresStateStore", "check_state_url"]

_T = TypeVar("_T")

# Each entry migrates the schema from version N to N + 1; never edit one, append.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE SEQUENCE qengine_fence",
        """CREATE TABLE qengine_steps (
            job_id TEXT NOT NULL, step_id TEXT NOT NULL,
            seq BIGINT GENERATED ALWAYS AS IDENTITY, idempotency_key TEXT NOT NULL,
            status TEXT NOT NULL, outputs TEXT NOT NULL, error TEXT NOT NULL,
            fence BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (job_id, step_id))""",
        """CREATE TABLE qengine_locks (
            target TEXT PRIMARY KEY, owner TEXT NOT NULL, holder TEXT NOT NULL,
            pid INTEGER NOT NULL, host TEXT NOT NULL, process_started TEXT NOT NULL,
            acquired_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL,
            fence BIGINT NOT NULL)""",
        """CREATE TABLE qengine_accepted_jobs (
            job_id TEXT PRIMARY KEY, accepted_at TIMESTAMPTZ NOT NULL)""",
        """CREATE TABLE qengine_finished_jobs (
            job_id TEXT PRIMARY KEY, status TEXT NOT NULL, finished_at TIMESTAMPTZ NOT NULL)""",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)
_MIGRATION_LOCK = 0x71656E67  # "qeng": the advisory lock that serialises migrations

_UPSERT_STEP = """INSERT INTO qengine_steps
    (job_id, step_id, idempotency_key, status, outputs, error, fence, updated_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, clock_timestamp())
    ON CONFLICT (job_id, step_id) DO UPDATE SET idempotency_key = excluded.idempotency_key,
    status = excluded.status, outputs = excluded.outputs, error = excluded.error,
    fence = excluded.fence, updated_at = excluded.updated_at"""

# Taken when free, lapsed, or already this store's for the same job (re-entry renews).
_TAKE_LOCK = """INSERT INTO qengine_locks AS l
    (target, owner, holder, pid, host, process_started, acquired_at, expires_at, fence)
    VALUES (%(target)s, %(owner)s, %(holder)s, %(pid)s, %(host)s, %(started)s,
            clock_timestamp(), clock_timestamp() + make_interval(secs => %(lease)s),
            nextval('qengine_fence'))
    ON CONFLICT (target) DO UPDATE SET owner = excluded.owner, holder = excluded.holder,
    pid = excluded.pid, host = excluded.host, process_started = excluded.process_started,
    acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, fence = excluded.fence
    WHERE l.expires_at < clock_timestamp()
       OR (l.holder = excluded.holder AND l.owner = excluded.owner)
    RETURNING fence"""

_HOLDER = """SELECT owner, pid, host, process_started, acquired_at, expires_at, fence
    FROM qengine_locks WHERE target = %s"""


class LeaseLostError(TargetLockedError):
    """This store's lease on a target lapsed and another holder took it over.

    Raised by the first write of the job after the takeover; nothing was written. The job now
    belongs to the new holder, which resumes it from the journal.
    """


@attrs.define
class _Lease:
    target: str
    owner: str
    token: int
    cancel: CancelToken | None


def check_state_url(url: str) -> str:
    """Refuse a state URL that is not ``postgresql://`` or that carries a password.

    The error never repeats the URL (it may hold the password being refused).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise InvalidInputError(
            f"--state-url must be a postgresql:// URL, not {parts.scheme or 'a bare'!r} one",
            hint="For example postgresql://qengine@db.internal:5432/qengine?sslmode=verify-full",
        )
    if parts.password is not None or "password" in parse_qs(parts.query):
        raise InvalidInputError(
            "--state-url must not carry a password (it would show in process lists and "
            "environments)",
            hint="Give the password in a file (password_file, or PGPASSFILE / ~/.pgpass in "
            "libpq's format) or PGPASSWORD in the worker's own environment.",
        )
    return url


class PostgresStateStore(StateStore):
    """Journal, replay ledger, job statuses and leased target locks in PostgreSQL.

    ``url``: a ``postgresql://`` URL without a password (:func:`check_state_url`).
    ``password_file``: a file whose first line is the password. ``lease_seconds``: how long a
    lock outlives a holder that stopped renewing it; ``heartbeat_seconds`` (default a third
    of the lease) how often it is renewed. Safe to share between threads.
    """

    def __init__(
        self,
        url: str,
        *,
        password_file: Path | None = None,
        lease_seconds: float = 30.0,
        heartbeat_seconds: float | None = None,
        lock_poll_seconds: float = 0.5,
        connect_timeout: int = 10,
    ) -> None:
        self._url = check_state_url(url)
        self._password = _read_password(password_file) if password_file else None
        self.lease_seconds = lease_seconds
        self._beat = heartbeat_seconds if heartbeat_seconds else lease_seconds / 3
        self._poll = lock_poll_seconds
        self._timeout = connect_timeout
        self.holder_id = uuid.uuid4().hex
        self._pid, self._host = os.getpid(), socket.gethostname()
        self._lock = threading.Lock()
        self._leases: dict[str, _Lease] = {}  # by owner (job id)
        self._fenced: set[str] = set()  # owners whose lease was taken over
        self._stop = threading.Event()
        self._heart: threading.Thread | None = None
        self._db: psycopg.Connection[Any] | None = None
        with self._lock:
            try:
                self._migrate(self._conn())
            except BaseException:
                self._drop()
                raise

    # -- journal ---------------------------------------------------------------------------

    def record_step(self, record: StepRecord) -> None:
        """Upsert the step's record, fenced by the job's lease; committed before returning."""
        self.record_steps([record])

    def record_steps(self, records: Sequence[StepRecord]) -> None:
        """Upsert ``records`` in one transaction that first checks each job's fencing token.

        Raises :class:`LeaseLostError` (nothing written) when a job's lease was taken over.
        """
        if not records:
            return

        def write(db: psycopg.Connection[Any]) -> None:
            with db.transaction(), db.cursor() as cursor:
                fences = {job: self._check_fence(cursor, job) for job in _jobs(records)}
                rows = [_row(r, fences[r.job_id]) for r in records]
                cursor.executemany(_UPSERT_STEP, rows)

        self._call(write)

    def step_records(self, job_id: str) -> Sequence[StepRecord]:
        """The job's records, in the order first recorded."""
        rows = self._call(
            lambda db: db.execute(
                "SELECT step_id, idempotency_key, status, outputs, error FROM qengine_steps "
                "WHERE job_id = %s ORDER BY seq",
                (job_id,),
            ).fetchall()
        )
        return [_record(job_id, row) for row in rows]

    def step_fences(self, job_id: str) -> Mapping[str, int]:
        """The fencing token each step of ``job_id`` was last written under (0: no lease)."""
        rows = self._call(
            lambda db: db.execute(
                "SELECT step_id, fence FROM qengine_steps WHERE job_id = %s ORDER BY seq",
                (job_id,),
            ).fetchall()
        )
        return {str(step): int(fence) for step, fence in rows}

    # -- locks -----------------------------------------------------------------------------

    def acquire_lock(
        self,
        target: str,
        owner: str,
        *,
        wait_seconds: float = 0.0,
        cancel: CancelToken | None = None,
    ) -> None:
        """Take a lease on ``target`` for ``owner``; see :meth:`StateStore.acquire_lock`.

        A holder is taken over only once its lease lapsed. While held, the lease is renewed
        by this store's heartbeat; if it is lost anyway, ``cancel`` is cancelled (forced) and
        the job's next write raises :class:`LeaseLostError`.
        """
        wait_for_lock(
            lambda: self._try_lock(target, owner, cancel),
            wait_seconds=wait_seconds,
            cancel=cancel,
            poll_seconds=self._poll,
        )
        self._start_heartbeat()

    def release_lock(self, target: str, owner: str) -> None:
        """Delete the lock row if this store still holds it for ``owner``."""
        with self._lock:
            lease = self._leases.get(owner)
            if lease is None or lease.target != target:
                return
            del self._leases[owner]
        deleted = self._call(
            lambda db: (
                db.execute(
                    "DELETE FROM qengine_locks WHERE target = %s AND fence = %s",
                    (target, lease.token),
                ).rowcount
            )
        )
        if deleted == 0:
            with self._lock:
                self._fenced.add(owner)

    def lock_holder(self, target: str) -> LockHolder | None:
        """The lock row of ``target`` (a lapsed lease may still show), or None."""
        row = self._call(lambda db: db.execute(_HOLDER, (target,)).fetchone())
        return None if row is None else _holder(target, row)

    def fencing_token(self, owner: str) -> int | None:
        """The token of the lease this store holds for ``owner``, or None."""
        with self._lock:
            lease = self._leases.get(owner)
        return None if lease is None else lease.token

    # -- replay ledger and statuses --------------------------------------------------------

    def accept_job_once(self, job_id: str) -> bool:
        """Insert ``job_id``; the primary key makes exactly one insert succeed, ever."""
        inserted = self._call(
            lambda db: (
                db.execute(
                    "INSERT INTO qengine_accepted_jobs VALUES (%s, clock_timestamp()) "
                    "ON CONFLICT DO NOTHING",
                    (job_id,),
                ).rowcount
            )
        )
        return inserted == 1

    def finish_job(self, job_id: str, status: str) -> None:
        """Upsert the job's final status; refused if its lease was taken over."""
        with self._lock:
            if job_id in self._fenced:
                raise _lost(job_id)
        self._call(
            lambda db: db.execute(
                "INSERT INTO qengine_finished_jobs VALUES (%s, %s, clock_timestamp()) "
                "ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, "
                "finished_at = excluded.finished_at",
                (job_id, status),
            )
        )

    def job_status(self, job_id: str) -> str | None:
        """The recorded final status, or None."""
        row = self._call(
            lambda db: db.execute(
                "SELECT status FROM qengine_finished_jobs WHERE job_id = %s", (job_id,)
            ).fetchone()
        )
        return None if row is None else str(row[0])

    def schema_version(self) -> int:
        """The schema version the database is at."""
        row = self._call(lambda db: db.execute("SELECT version FROM qengine_schema").fetchone())
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        """Stop the heartbeat and close the connections; held leases lapse on their own."""
        self._stop.set()
        if self._heart is not None:
            self._heart.join(timeout=self._beat + self._timeout)
        with self._lock:
            self._drop()

    # -- internals -------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        extra: dict[str, Any] = {"password": self._password} if self._password else {}
        try:
            return psycopg.connect(
                self._url, autocommit=True, connect_timeout=self._timeout, **extra
            )
        except psycopg.OperationalError as exc:
            raise _unreachable(exc) from None

    def _conn(self) -> psycopg.Connection[Any]:
        if self._db is None or self._db.closed or self._db.broken:
            self._db = self._connect()
        return self._db

    def _call(self, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Run ``work`` on the shared connection; a lost connection is a transient error and
        the next call reconnects (a restarted server is picked up again)."""
        import psycopg

        with self._lock:
            try:
                return work(self._conn())
            except psycopg.OperationalError as exc:
                if self._db is not None and (self._db.closed or self._db.broken):
                    self._drop()
                raise _unreachable(exc) from None

    def _drop(self) -> None:
        """Close and forget the shared connection. Called with ``self._lock`` held."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def _migrate(self, db: psycopg.Connection[Any]) -> None:
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS qengine_schema (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM qengine_schema").fetchone()
            current = 0 if row is None else int(row[0])
            if current > SCHEMA_VERSION:
                raise InvalidInputError(
                    f"the state database is at schema version {current}, newer than this "
                    f"qengine knows ({SCHEMA_VERSION})",
                    hint="Upgrade qengine on this machine to the version the other workers run.",
                )
            for statements in _MIGRATIONS[current:]:
                for statement in statements:
                    db.execute(statement)
            if row is None:
                db.execute("INSERT INTO qengine_schema VALUES (%s)", (SCHEMA_VERSION,))
            else:
                db.execute("UPDATE qengine_schema SET version = %s", (SCHEMA_VERSION,))

    def _try_lock(self, target: str, owner: str, cancel: CancelToken | None) -> LockHolder | None:
        params = {
            "target": target,
            "owner": owner,
            "holder": self.holder_id,
            "pid": self._pid,
            "host": self._host,
            "started": "",
            "lease": self.lease_seconds,
        }

        def attempt(db: psycopg.Connection[Any]) -> tuple[int | None, Any]:
            row = db.execute(_TAKE_LOCK, params).fetchone()
            if row is not None:
                return int(row[0]), None
            return None, db.execute(_HOLDER, (target,)).fetchone()

        while True:
            token, held = self._call(attempt)
            if token is not None:
                with self._lock:
                    self._leases[owner] = _Lease(target, owner, token, cancel)
                    self._fenced.discard(owner)
                return None
            if held is not None:
                return _holder(target, held)
            # Released between the two statements: try again at once.

    def _check_fence(self, cursor: psycopg.Cursor[Any], job_id: str) -> int:
        lease = self._leases.get(job_id)
        if job_id in self._fenced:
            raise _lost(job_id)
        if lease is None:
            return 0
        row = cursor.execute(
            "SELECT fence FROM qengine_locks WHERE target = %s FOR SHARE", (lease.target,)
        ).fetchone()
        if row is None or int(row[0]) != lease.token:
            self._lose(lease)
            raise _lost(job_id)
        return lease.token

    def _lose(self, lease: _Lease) -> None:
        """Forget a lease taken over; cancel its job. Called with ``self._lock`` held."""
        self._leases.pop(lease.owner, None)
        self._fenced.add(lease.owner)
        if lease.cancel is not None:
            lease.cancel.cancel(f"the lease on {lease.target} was taken over", force=True)

    def _start_heartbeat(self) -> None:
        with self._lock:
            if self._heart is None:
                self._heart = threading.Thread(
                    target=self._heartbeat, name="qengine-lease-heartbeat", daemon=True
                )
                self._heart.start()

    def _heartbeat(self) -> None:
        """Renew every held lease on a connection of its own, until the store closes."""
        import psycopg

        db: psycopg.Connection[Any] | None = None
        while not self._stop.wait(self._beat):
            with self._lock:
                leases = list(self._leases.values())
            try:
                db = db if db is not None and not db.closed else self._connect()
                for lease in leases:
                    self._renew(db, lease)
            except (psycopg.OperationalError, TransientError, AuthError):
                # The database is away: the lease lapses unless it comes back in time, and
                # the job's next write tells whether another holder took over meanwhile.
                if db is not None:
                    db.close()
                db = None
        if db is not None:
            db.close()

    def _renew(self, db: psycopg.Connection[Any], lease: _Lease) -> None:
        renewed = db.execute(
            "UPDATE qengine_locks SET expires_at = clock_timestamp() + make_interval(secs => %s) "
            "WHERE target = %s AND fence = %s",
            (self.lease_seconds, lease.target, lease.token),
        ).rowcount
        if renewed == 0:
            with self._lock:
                if self._leases.get(lease.owner) is lease:
                    self._lose(lease)


def _jobs(records: Sequence[StepRecord]) -> list[str]:
    return list(dict.fromkeys(record.job_id for record in records))


def _lost(job_id: str) -> LeaseLostError:
    return LeaseLostError(
        f"job {job_id!r} lost its target lease to another holder: it stopped before writing",
        hint="Another worker took the job over after this one stopped renewing its lease "
        "(paused, or cut off from the database); it resumes the job from the journal.",
    )


def _unreachable(exc: Exception) -> TransientError | AuthError:
    # psycopg's message names the host and the user, never the password.
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "authentication failed" in first:
        return AuthError(
            f"the PostgreSQL state store refused the credentials: {first}",
            hint="Check the user in --state-url and the password file (or PGPASSFILE).",
        )
    return TransientError(
        f"the PostgreSQL state store is unreachable: {first}",
        hint="Check that the database is up and reachable; running the job again resumes it.",
    )


def _read_password(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read the state store's password file {path}: {exc.strerror}",
            hint="Give a readable file whose first line is the password.",
        ) from None
    lines = text.splitlines()
    return lines[0] if lines else ""


def _holder(target: str, row: tuple[Any, ...]) -> LockHolder:
    owner, pid, host, started, acquired, expires, fence = row
    return LockHolder(
        target=target,
        owner=str(owner),
        pid=int(pid),
        host=str(host),
        process_started=str(started),
        acquired_at=acquired.isoformat(),
        lease_expires_at=expires.isoformat(),
        fencing_token=int(fence),
    )


def _row(record: StepRecord, fence: int) -> tuple[str, str, str, str, str, str, int]:
    outputs = json.dumps(dict(record.outputs), sort_keys=True)
    return (
        record.job_id,
        record.step_id,
        record.idempotency_key,
        record.status.value,
        outputs,
        record.error,
        fence,
    )


def _record(job_id: str, row: tuple[Any, ...]) -> StepRecord:
    step_id, key, status, outputs, error = row
    decoded: Mapping[str, str] = json.loads(outputs)
    return StepRecord(
        job_id=job_id,
        step_id=str(step_id),
        idempotency_key=str(key),
        status=StepState(status),
        outputs=decoded,
        error=str(error),
    )
