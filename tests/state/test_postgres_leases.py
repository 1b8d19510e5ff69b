"""Leases and fencing of the PostgreSQL store, with holders in real processes that the tests
pause (SIGSTOP), resume and kill, as a worker machine would be."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qengine import TargetLockedError
from qengine.interfaces.state import StepRecord, StepState
from qengine.runner.pgstore import PostgresStateStore
from qengine.testing.postgres import LocalPostgres

HOLDER = Path(__file__).with_name("lease_holder.py")
REPO = Path(__file__).resolve().parents[2]


class Holder:
    """A lease holder in a child process."""

    def __init__(self, postgres: LocalPostgres, url: str, target: str, owner: str, lease: float):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}
        argv = [sys.executable, str(HOLDER), url, str(postgres.password_file), target, owner]
        self.process = subprocess.Popen(
            [*argv, str(lease)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.token = int(self.read().split()[1])

    def read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the holder process ended"
        return line.strip()

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.read()

    def signal(self, number: int) -> None:
        os.kill(self.process.pid, number)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def store(postgres: LocalPostgres, pg_url: str) -> Iterator[PostgresStateStore]:
    opened = PostgresStateStore(
        pg_url, password_file=postgres.password_file, lease_seconds=1.0, lock_poll_seconds=0.05
    )
    yield opened
    opened.close()


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.stop()


def _step(job: str, step: str) -> StepRecord:
    return StepRecord(job_id=job, step_id=step, idempotency_key=step, status=StepState.SUCCEEDED)


def test_a_live_holder_keeps_its_lease_long_past_its_length(
    postgres: LocalPostgres, pg_url: str, store: PostgresStateStore, holders: list[Holder]
) -> None:
    holder = Holder(postgres, pg_url, "env/a", "job-1", lease=0.6)
    holders.append(holder)
    time.sleep(2.0)  # over three leases: only the heartbeat keeps it
    with pytest.raises(TargetLockedError, match="job-1"):
        store.acquire_lock("env/a", "job-2")
    assert holder.ask("write s1") == "wrote"
    assert store.step_fences("job-1") == {"s1": holder.token}


def test_a_killed_holders_lease_lapses_and_is_taken_over(
    postgres: LocalPostgres, pg_url: str, store: PostgresStateStore, holders: list[Holder]
) -> None:
    holder = Holder(postgres, pg_url, "env/a", "job-1", lease=1.0)
    holders.append(holder)
    holder.signal(signal.SIGKILL)
    holder.process.wait(timeout=10)
    with pytest.raises(TargetLockedError):
        store.acquire_lock("env/a", "job-1")  # the same job, but not yet lapsed
    store.acquire_lock("env/a", "job-1", wait_seconds=30)
    taken = store.lock_holder("env/a")
    assert taken is not None
    assert taken.fencing_token > holder.token
    assert taken.pid == os.getpid()


def test_a_paused_holder_cannot_write_after_a_takeover(
    postgres: LocalPostgres, pg_url: str, store: PostgresStateStore, holders: list[Holder]
) -> None:
    holder = Holder(postgres, pg_url, "env/a", "job-1", lease=1.0)
    holders.append(holder)
    assert holder.ask("write before") == "wrote"
    holder.signal(signal.SIGSTOP)
    store.acquire_lock("env/a", "job-1", wait_seconds=30)  # after the lease lapsed
    new_token = store.fencing_token("job-1")
    assert new_token is not None
    assert new_token > holder.token
    store.record_step(_step("job-1", "after"))
    holder.signal(signal.SIGCONT)
    assert holder.ask("write late") == "lost"
    assert holder.ask("finish") == "lost"
    assert holder.ask("release") == "released"  # a no-op on the new holder's lock
    assert store.step_fences("job-1") == {"before": holder.token, "after": new_token}
    assert store.job_status("job-1") is None
    assert store.lock_holder("env/a").fencing_token == new_token  # type: ignore[union-attr]
    store.record_step(_step("job-1", "still-mine"))


def test_the_heartbeat_notices_a_takeover_and_cancels_the_job(
    postgres: LocalPostgres, pg_url: str, store: PostgresStateStore, holders: list[Holder]
) -> None:
    holder = Holder(postgres, pg_url, "env/b", "job-9", lease=1.0)
    holders.append(holder)
    holder.signal(signal.SIGSTOP)
    store.acquire_lock("env/b", "job-9", wait_seconds=30)
    holder.signal(signal.SIGCONT)
    answers = [holder.ask("cancelled")]
    deadline = time.monotonic() + 10
    while answers[-1].startswith("running") and time.monotonic() < deadline:
        time.sleep(0.1)  # the heartbeat runs every third of a lease
        answers.append(holder.ask("cancelled"))
    assert answers[-1].startswith("cancelled"), answers
    assert "lease on env/b was taken over" in answers[-1]
    assert list(store.step_records("job-9")) == []
