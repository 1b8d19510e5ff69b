"""The lease protocol over a store with conditional writes (``qengine.plugin.ObjectLease``).

The store here is an in-memory dictionary with the same four conditional primitives a bucket
offers: the protocol is what is tested; the clouds' stores are tested on their stand-ins
(moto's S3 for AWS)."""

from __future__ import annotations

import json
import threading

import pytest

from qengine.plugin import CancelToken, LeaseObjectStore, ObjectLease, TargetLockedError


class DictStore(LeaseObjectStore):
    def __init__(self) -> None:
        self.body: bytes | None = None
        self.version = 0
        self.lock = threading.Lock()
        self.ready = True

    def prepare(self) -> bool:
        return self.ready

    def read(self) -> tuple[bytes, str] | None:
        with self.lock:
            return None if self.body is None else (self.body, str(self.version))

    def create(self, body: bytes) -> str | None:
        with self.lock:
            if self.body is not None:
                return None
            self.body, self.version = body, self.version + 1
            return str(self.version)

    def replace(self, body: bytes, version: str) -> str | None:
        with self.lock:
            if self.body is None or str(self.version) != version:
                return None
            self.body, self.version = body, self.version + 1
            return str(self.version)

    def delete(self, version: str) -> None:
        with self.lock:
            if self.body is not None and str(self.version) == version:
                self.body = None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lease(store: DictStore, clock: Clock) -> ObjectLease:
    return ObjectLease(store, description="the test lease", seconds=30.0, clock=clock)


def test_one_holder_at_a_time_and_the_holder_is_named() -> None:
    store, clock = DictStore(), Clock()
    first = _lease(store, clock)
    first.acquire("job-a", wait_seconds=0, cancel=CancelToken())

    with pytest.raises(TargetLockedError) as refused:
        _lease(store, clock).acquire("job-b", wait_seconds=0, cancel=CancelToken())

    assert "the test lease is held by job job-a (pid" in str(refused.value)
    first.release()
    assert store.body is None
    _lease(store, clock).acquire("job-b", wait_seconds=0, cancel=CancelToken())


def test_a_lapsed_lease_is_taken_over_and_its_old_holder_learns_it_at_renewal() -> None:
    store, clock = DictStore(), Clock()
    old = _lease(store, clock)
    old.acquire("job-a", wait_seconds=0, cancel=CancelToken())
    clock.now += 31  # job-a stopped renewing

    new = _lease(store, clock)
    new.acquire("job-b", wait_seconds=0, cancel=CancelToken())

    with pytest.raises(TargetLockedError, match="was taken by job job-b"):
        old.renew()
    old.release()  # at its own, stale, version: the new holder's lease stays
    assert store.body is not None
    assert json.loads(store.body)["job"] == "job-b"


def test_a_renewal_keeps_a_live_lease_past_its_duration() -> None:
    store, clock = DictStore(), Clock()
    holder = _lease(store, clock)
    holder.acquire("job-a", wait_seconds=0, cancel=CancelToken())
    for _ in range(5):
        clock.now += 20
        holder.renew()

    with pytest.raises(TargetLockedError):
        _lease(store, clock).acquire("job-b", wait_seconds=0, cancel=CancelToken())


def test_a_resumed_run_of_the_same_job_takes_its_lease_back() -> None:
    store, clock = DictStore(), Clock()
    _lease(store, clock).acquire("job-a", wait_seconds=0, cancel=CancelToken())
    again = _lease(store, clock)
    again.acquire("job-a", wait_seconds=0, cancel=CancelToken())
    again.release()
    assert store.body is None


def test_racing_engines_exactly_one_wins() -> None:
    store, clock = DictStore(), Clock()
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def contend(name: str) -> None:
        barrier.wait()
        try:
            _lease(store, clock).acquire(name, wait_seconds=0, cancel=CancelToken())
            outcomes.append("won")
        except TargetLockedError:
            outcomes.append("refused")

    threads = [threading.Thread(target=contend, args=(f"job-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused"] * 7 + ["won"]


def test_a_store_that_cannot_hold_a_lease_yet_runs_the_job_without_one() -> None:
    store, clock = DictStore(), Clock()
    store.ready = False
    lease = _lease(store, clock)
    lease.acquire("job-a", wait_seconds=0, cancel=CancelToken())
    lease.renew()
    lease.release()
    assert store.body is None
