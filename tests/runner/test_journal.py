"""The SQLite state store: journal records, replay protection, and locks across processes."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qengine._errors import CancelledError, TargetLockedError
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.state import StateStore, StepRecord, StepState
from qengine.runner import MemoryStateStore, SqliteStateStore
from qengine.runner.liveness import ProcessIdentity
from runner.support import python

HOLD_LOCK = """
import sys
from pathlib import Path
from qengine.runner import SqliteStateStore
store = SqliteStateStore(Path({state!r}))
store.acquire_lock("cluster/demo", "job-other")
print("locked", flush=True)
if {die!r}:
    import os
    os._exit(0)
sys.stdin.readline()
store.release_lock("cluster/demo", "job-other")
"""


@pytest.fixture
def store(state_dir: Path) -> Iterator[SqliteStateStore]:
    opened = SqliteStateStore(state_dir, lock_poll_seconds=0.02)
    yield opened
    opened.close()


def _holder(state_dir: Path, *, die: bool) -> subprocess.Popen[str]:
    child = python(HOLD_LOCK.format(state=str(state_dir), die=die))
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "locked"
    return child


def _record(step_id: str, status: StepState, **outputs: str) -> StepRecord:
    return StepRecord(
        job_id="job-1",
        step_id=step_id,
        idempotency_key=f"k-{step_id}",
        status=status,
        outputs=outputs,
    )


def test_records_keep_first_order_and_latest_state(store: SqliteStateStore) -> None:
    store.record_step(_record("b", StepState.STARTED))
    store.record_step(_record("a", StepState.STARTED))
    store.record_step(_record("b", StepState.SUCCEEDED, url="https://x"))
    records = store.step_records("job-1")
    assert [(r.step_id, r.status) for r in records] == [
        ("b", StepState.SUCCEEDED),
        ("a", StepState.STARTED),
    ]
    assert records[0].outputs == {"url": "https://x"}
    assert store.step_records("job-unknown") == []


def test_records_survive_reopening(state_dir: Path, store: SqliteStateStore) -> None:
    store.record_step(_record("a", StepState.SUCCEEDED, n="1"))
    other = SqliteStateStore(state_dir)
    assert other.step_records("job-1")[0].outputs == {"n": "1"}
    other.close()


def test_database_is_in_wal_mode_and_private(state_dir: Path, store: SqliteStateStore) -> None:
    import sqlite3

    with sqlite3.connect(store.path) as probe:
        assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    probe.close()
    assert state_dir.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_accept_job_once_is_true_exactly_once_under_contention(kind: str, state_dir: Path) -> None:
    stores: list[StateStore] = (
        [SqliteStateStore(state_dir) for _ in range(4)]
        if kind == "sqlite"
        else [MemoryStateStore()] * 4
    )
    answers: list[bool] = []
    barrier = threading.Barrier(8)

    def accept(target: StateStore) -> None:
        barrier.wait()
        answers.append(target.accept_job_once("job-replayed"))

    threads = [threading.Thread(target=accept, args=(stores[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False] * 7 + [True]
    for opened in stores:
        opened.close()


def test_a_lock_held_by_another_live_process_is_refused(
    state_dir: Path, store: SqliteStateStore
) -> None:
    child = _holder(state_dir, die=False)
    try:
        with pytest.raises(TargetLockedError) as caught:
            store.acquire_lock("cluster/demo", "job-mine")
        assert caught.value.exit_code == 4
        assert "job-other" in caught.value.message
        assert f"pid {child.pid}" in caught.value.message
        assert "--wait-lock" in caught.value.hint
    finally:
        child.communicate("release\n", timeout=10)
    store.acquire_lock("cluster/demo", "job-mine")
    holder = store.lock_holder("cluster/demo")
    assert holder is not None
    assert holder.owner == "job-mine"


def test_waiting_for_a_lock_polls_then_gives_up(state_dir: Path, store: SqliteStateStore) -> None:
    child = _holder(state_dir, die=False)
    try:
        started = time.monotonic()
        with pytest.raises(TargetLockedError):
            store.acquire_lock("cluster/demo", "job-mine", wait_seconds=0.3)
        assert 0.3 <= time.monotonic() - started < 2
    finally:
        child.communicate("release\n", timeout=10)


def test_waiting_for_a_lock_succeeds_when_it_is_released(
    state_dir: Path, store: SqliteStateStore
) -> None:
    child = _holder(state_dir, die=False)
    stdin = child.stdin
    assert stdin is not None
    threading.Timer(0.2, lambda: (stdin.write("go\n"), stdin.flush())).start()
    store.acquire_lock("cluster/demo", "job-mine", wait_seconds=10)
    child.communicate(timeout=10)
    holder = store.lock_holder("cluster/demo")
    assert holder is not None
    assert holder.owner == "job-mine"


def test_waiting_for_a_lock_is_cancellable(state_dir: Path, store: SqliteStateStore) -> None:
    child = _holder(state_dir, die=False)
    token = CancelToken()
    threading.Timer(0.1, token.cancel).start()
    try:
        started = time.monotonic()
        with pytest.raises(CancelledError):
            store.acquire_lock("cluster/demo", "job-mine", wait_seconds=30, cancel=token)
        assert time.monotonic() - started < 2
    finally:
        child.communicate("release\n", timeout=10)


def test_a_lock_left_by_a_dead_process_is_taken_over(
    state_dir: Path, store: SqliteStateStore
) -> None:
    child = _holder(state_dir, die=True)
    child.communicate(timeout=10)
    stale = store.lock_holder("cluster/demo")
    assert stale is not None
    assert stale.pid == child.pid
    store.acquire_lock("cluster/demo", "job-mine")
    holder = store.lock_holder("cluster/demo")
    assert holder is not None
    assert (holder.owner, holder.pid) == ("job-mine", ProcessIdentity.current().pid)


def test_a_lock_whose_pid_was_reused_is_taken_over(store: SqliteStateStore) -> None:
    import sqlite3

    me = ProcessIdentity.current()
    # Our own, live pid, but a start time that is not ours: the holder died, the pid moved on.
    with sqlite3.connect(store.path) as db:
        db.execute(
            "INSERT INTO locks VALUES (?, ?, ?, ?, ?, ?)",
            ("cluster/demo", "job-ghost", me.pid, me.host, "1", "2026-01-01T00:00:00Z"),
        )
    db.close()
    store.acquire_lock("cluster/demo", "job-mine")
    holder = store.lock_holder("cluster/demo")
    assert holder is not None
    assert holder.owner == "job-mine"


def test_release_only_frees_the_owners_lock(store: SqliteStateStore) -> None:
    store.acquire_lock("cluster/demo", "job-mine")
    store.release_lock("cluster/demo", "job-someone-else")
    assert store.lock_holder("cluster/demo") is not None
    store.release_lock("cluster/demo", "job-mine")
    assert store.lock_holder("cluster/demo") is None
    store.release_lock("cluster/demo", "job-mine")


def test_two_jobs_in_one_process_exclude_each_other(store: SqliteStateStore) -> None:
    store.acquire_lock("cluster/demo", "job-a")
    with pytest.raises(TargetLockedError, match="job-a"):
        store.acquire_lock("cluster/demo", "job-b")


def test_memory_store_locks_wait_and_refuse() -> None:
    memory = MemoryStateStore(lock_poll_seconds=0.01)
    memory.acquire_lock("t", "job-a")
    started = time.monotonic()
    with pytest.raises(TargetLockedError):
        memory.acquire_lock("t", "job-b", wait_seconds=0.1)
    assert time.monotonic() - started >= 0.1
    memory.release_lock("t", "job-a")
    memory.acquire_lock("t", "job-b")


def test_an_unwritable_state_dir_is_invalid_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    from qengine._errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="state directory"):
        SqliteStateStore(blocker / "state")
