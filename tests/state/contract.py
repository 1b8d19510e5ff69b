"""The contract every :class:`~qengine.interfaces.state.StateStore` passes, whatever it stores in.

A store's test module subclasses :class:`StoreContract` and provides the ``open_store``
fixture: a factory opening a new store on the same storage each call (a second store stands
for a second engine process or machine sharing that storage). Imported as ``state.contract``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from qengine import CancelledError, TargetLockedError
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.state import StateStore, StepRecord, StepState
from qengine.runner import Executor, JobRef, JobStatus, StepStatus
from qengine.testing.steps import StepFactory, build_plan

OpenStore = Callable[[], StateStore]


def rec(job: str, step: str, status: StepState = StepState.STARTED, **kw: object) -> StepRecord:
    """A journal record with a key derived from the step id."""
    return StepRecord(job_id=job, step_id=step, idempotency_key=f"key-{step}", status=status, **kw)  # type: ignore[arg-type]


class StoreContract:
    """Journal, replay ledger, statuses and locks, as the interface promises them."""

    @pytest.fixture
    def store(self, open_store: OpenStore) -> Iterator[StateStore]:
        store = open_store()
        yield store
        store.close()

    # -- journal ---------------------------------------------------------------------------

    def test_an_unknown_job_has_no_records_and_no_status(self, store: StateStore) -> None:
        assert list(store.step_records("never")) == []
        assert store.job_status("never") is None

    def test_records_keep_their_first_recorded_order_when_replaced(self, store: StateStore) -> None:
        for step in ("c", "a", "b"):
            store.record_step(rec("j", step))
        store.record_step(rec("j", "a", StepState.SUCCEEDED, outputs={"x": "1"}))
        records = store.step_records("j")
        assert [r.step_id for r in records] == ["c", "a", "b"]
        assert [r.status for r in records] == [
            StepState.STARTED,
            StepState.SUCCEEDED,
            StepState.STARTED,
        ]

    def test_outputs_errors_and_keys_round_trip(self, store: StateStore) -> None:
        outputs = {"url": "https://x.example/ü", "empty": "", "quote": 'a "b"'}
        store.record_step(rec("j", "s", StepState.SUCCEEDED, outputs=outputs))
        store.record_step(rec("j", "f", StepState.FAILED, error="boom: it broke"))
        by_id = {r.step_id: r for r in store.step_records("j")}
        assert dict(by_id["s"].outputs) == outputs
        assert by_id["f"].error == "boom: it broke"
        assert by_id["s"].idempotency_key == "key-s"
        assert by_id["s"].job_id == "j"

    def test_a_batch_is_recorded_in_order_and_jobs_stay_apart(self, store: StateStore) -> None:
        store.record_steps([rec("j1", "b"), rec("j1", "a"), rec("j2", "z")])
        store.record_steps([rec("j1", "b", StepState.SUCCEEDED), rec("j1", "c")])
        assert [r.step_id for r in store.step_records("j1")] == ["b", "a", "c"]
        assert [r.step_id for r in store.step_records("j2")] == ["z"]
        store.record_steps([])

    def test_records_outlive_the_store_and_are_shared(self, open_store: OpenStore) -> None:
        first = open_store()
        first.record_step(rec("j", "a", StepState.SUCCEEDED, outputs={"k": "v"}))
        first.finish_job("j", "succeeded")
        first.close()
        second, third = open_store(), open_store()
        try:
            assert [(r.step_id, dict(r.outputs)) for r in second.step_records("j")] == [
                ("a", {"k": "v"})
            ]
            third.record_step(rec("j", "b"))
            assert [r.step_id for r in second.step_records("j")] == ["a", "b"]
            assert second.job_status("j") == "succeeded"
        finally:
            second.close()
            third.close()

    # -- replay ledger and statuses --------------------------------------------------------

    def test_a_job_is_accepted_exactly_once_across_stores_and_threads(
        self, open_store: OpenStore
    ) -> None:
        stores = [open_store(), open_store()]
        answers: list[bool] = []
        start = threading.Barrier(8)

        def accept(store: StateStore) -> None:
            start.wait()
            answers.append(store.accept_job_once("job-once"))

        threads = [threading.Thread(target=accept, args=(stores[i % 2],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == [False] * 7 + [True]
        assert stores[0].accept_job_once("job-once") is False
        assert stores[1].accept_job_once("another") is True
        for store in stores:
            store.close()

    def test_finish_job_records_and_replaces_the_status(self, store: StateStore) -> None:
        store.finish_job("j", "failed")
        assert store.job_status("j") == "failed"
        store.finish_job("j", "succeeded")
        assert store.job_status("j") == "succeeded"
        assert store.job_status("other") is None

    # -- locks -----------------------------------------------------------------------------

    def test_a_held_lock_refuses_another_owner_and_names_the_holder(
        self, store: StateStore
    ) -> None:
        store.acquire_lock("env/a", "job-1")
        holder = store.lock_holder("env/a")
        assert holder is not None
        assert (holder.owner, holder.target) == ("job-1", "env/a")
        with pytest.raises(TargetLockedError, match="job-1"):
            store.acquire_lock("env/a", "job-2", wait_seconds=0.3)
        store.acquire_lock("env/b", "job-2")  # another target is free
        store.release_lock("env/a", "job-1")
        assert store.lock_holder("env/a") is None
        store.acquire_lock("env/a", "job-2")
        assert store.lock_holder("env/a").owner == "job-2"  # type: ignore[union-attr]

    def test_a_lock_held_through_another_store_is_refused(self, open_store: OpenStore) -> None:
        first, second = open_store(), open_store()
        try:
            first.acquire_lock("env/x", "job-1")
            with pytest.raises(TargetLockedError, match="job-1"):
                second.acquire_lock("env/x", "job-2")
            second.release_lock("env/x", "job-2")  # not its lock: a no-op
            assert second.lock_holder("env/x").owner == "job-1"  # type: ignore[union-attr]
            first.release_lock("env/x", "job-1")
            second.acquire_lock("env/x", "job-2")
        finally:
            first.close()
            second.close()

    def test_releasing_a_lock_not_held_is_a_no_op(self, store: StateStore) -> None:
        store.release_lock("env/free", "nobody")
        store.acquire_lock("env/a", "job-1")
        store.release_lock("env/a", "job-2")
        assert store.lock_holder("env/a").owner == "job-1"  # type: ignore[union-attr]

    def test_a_waiting_acquire_gets_the_lock_once_released(self, store: StateStore) -> None:
        store.acquire_lock("env/a", "job-1")
        timer = threading.Timer(0.4, store.release_lock, args=("env/a", "job-1"))
        timer.start()
        began = time.monotonic()
        store.acquire_lock("env/a", "job-2", wait_seconds=20)
        timer.join()
        assert time.monotonic() - began >= 0.3
        assert store.lock_holder("env/a").owner == "job-2"  # type: ignore[union-attr]

    def test_a_cancel_ends_the_wait(self, store: StateStore) -> None:
        store.acquire_lock("env/a", "job-1")
        token = CancelToken()
        threading.Timer(0.3, token.cancel).start()
        with pytest.raises(CancelledError):
            store.acquire_lock("env/a", "job-2", wait_seconds=30, cancel=token)
        assert store.lock_holder("env/a").owner == "job-1"  # type: ignore[union-attr]

    # -- through the runner ----------------------------------------------------------------

    def test_the_executor_runs_and_resumes_a_job_on_the_store(self, open_store: OpenStore) -> None:
        factory = StepFactory()
        job = JobRef(job_id="job-exec", target_id="env/exec")
        first = open_store()
        failing = Executor(store=first).run(build_plan(factory, "a; b:hang:timeout=0.2 <- a"), job)
        assert failing.status is JobStatus.FAILED
        assert first.lock_holder("env/exec") is None
        first.close()
        second = open_store()
        try:
            done = Executor(store=second).run(build_plan(factory, "a; b:sleep=0 <- a"), job)
            assert done.status is JobStatus.SUCCEEDED
            again = Executor(store=second).run(build_plan(factory, "a; b:sleep=0 <- a"), job)
            assert [o.status for o in again.steps] == [StepStatus.SKIPPED, StepStatus.SKIPPED]
            statuses = {r.step_id: r.status for r in second.step_records("job-exec")}
            assert statuses == {"a": StepState.SUCCEEDED, "b": StepState.SUCCEEDED}
        finally:
            second.close()
