"""Steps whose ``compensate`` can undo a partial run (``Step.compensate_partial``): the runner
rolls back the run a failure or a cancellation stopped, with the completed steps, newest
first; a step it stopped waiting for is left as it is."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from qengine._errors import DeploymentError
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.state import StepState
from qengine.runner import (
    Executor,
    JobRef,
    JobStatus,
    Plan,
    SqliteStateStore,
    Step,
    StepContext,
)
from runner.support import FAST_RETRY

JOB = JobRef(job_id="job-p", organization_id="org-1", target_id="env/partial")


class Journal:
    """What the steps did, in order: ``(action, step id)``."""

    def __init__(self) -> None:
        self.done: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.running = threading.Event()

    def note(self, action: str, step_id: str) -> None:
        with self.lock:
            self.done.append((action, step_id))

    def ok(self, ctx: StepContext) -> Mapping[str, str]:
        self.note("run", ctx.step_id)
        return {}

    def fail(self, ctx: StepContext) -> Mapping[str, str]:
        self.note("run", ctx.step_id)
        raise DeploymentError(f"{ctx.step_id} failed half-way")

    def hang(self, ctx: StepContext) -> Mapping[str, str]:
        self.note("run", ctx.step_id)
        self.running.set()
        ctx.cancel.wait()
        ctx.cancel.raise_if_cancelled()
        return {}

    def ignore(self, ctx: StepContext) -> Mapping[str, str]:
        self.note("run", ctx.step_id)
        self.running.set()
        threading.Event().wait(3)
        return {}

    def undo(self, ctx: StepContext) -> None:
        self.note("compensate", ctx.step_id)

    def broken_undo(self, ctx: StepContext) -> None:
        self.note("compensate", ctx.step_id)
        raise DeploymentError(f"cannot undo {ctx.step_id}")


def _step(
    step_id: str,
    run: Callable[[StepContext], Mapping[str, str]],
    journal: Journal,
    *,
    after: tuple[str, ...] = (),
    partial: bool = True,
    undo: Callable[[StepContext], None] | None = None,
) -> Step:
    return Step(
        id=step_id,
        run=run,
        depends_on=after,
        compensate=undo or journal.undo,
        compensate_partial=partial,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStateStore]:
    """The journal of the tests' runs."""
    journal = SqliteStateStore(tmp_path / "state")
    yield journal
    journal.close()


def _cancel_when_running(journal: Journal, token: CancelToken) -> None:
    if journal.running.wait(5):
        token.cancel("stop")


def _executor(store: SqliteStateStore, grace: float = 5.0) -> Executor:
    return Executor(store=store, retry=FAST_RETRY, cancel_grace_seconds=grace)


def _states(store: SqliteStateStore) -> dict[str, StepState]:
    return {r.step_id: r.status for r in store.step_records(JOB.job_id)}


def test_a_failed_step_that_can_undo_a_partial_run_is_rolled_back_first(
    store: SqliteStateStore,
) -> None:
    journal = Journal()
    plan = Plan(
        [
            _step("a", journal.ok, journal),
            _step("b", journal.ok, journal, after=("a",), partial=False),
            _step("c", journal.fail, journal, after=("b",)),
        ]
    )

    result = _executor(store).run(plan, JOB)

    assert result.status is JobStatus.FAILED
    assert result.rolled_back == ("c", "b", "a")
    assert result.left_in_place == ()
    assert [s for a, s in journal.done if a == "compensate"] == ["c", "b", "a"]
    assert _states(store)["c"] is StepState.COMPENSATED


def test_a_cancelled_step_that_can_undo_a_partial_run_is_rolled_back(
    store: SqliteStateStore,
) -> None:
    journal = Journal()
    plan = Plan([_step("a", journal.ok, journal), _step("h", journal.hang, journal, after=("a",))])
    token = CancelToken()
    threading.Thread(target=_cancel_when_running, args=(journal, token)).start()

    result = _executor(store).run(plan, JOB, cancel=token)

    assert result.status is JobStatus.CANCELLED
    assert result.exit_code == 3
    assert result.rolled_back == ("h", "a")
    assert result.left_in_place == ()
    assert _states(store) == {"a": StepState.COMPENSATED, "h": StepState.COMPENSATED}


def test_a_step_without_the_flag_is_left_as_before(store: SqliteStateStore) -> None:
    journal = Journal()
    plan = Plan(
        [
            _step("a", journal.ok, journal),
            _step("h", journal.hang, journal, after=("a",), partial=False),
        ]
    )
    token = CancelToken()
    threading.Thread(target=_cancel_when_running, args=(journal, token)).start()

    result = _executor(store).run(plan, JOB, cancel=token)

    assert result.rolled_back == ("a",)
    assert result.left_in_place == ("h",)
    assert ("compensate", "h") not in journal.done


def test_a_failed_undo_of_a_partial_run_leaves_it_failed_in_the_journal(
    store: SqliteStateStore,
) -> None:
    journal = Journal()
    plan = Plan([_step("c", journal.fail, journal, undo=journal.broken_undo)])

    result = _executor(store).run(plan, JOB)

    assert result.rolled_back == ()
    assert result.left_in_place == ("c",)
    # Never "succeeded": running the job again runs the step again.
    assert _states(store) == {"c": StepState.FAILED}


def test_a_step_that_does_not_stop_within_the_grace_is_not_undone(store: SqliteStateStore) -> None:
    journal = Journal()
    plan = Plan(
        [_step("a", journal.ok, journal), _step("s", journal.ignore, journal, after=("a",))]
    )
    token = CancelToken()
    threading.Thread(target=_cancel_when_running, args=(journal, token)).start()

    result = _executor(store, grace=0.2).run(plan, JOB, cancel=token)

    assert result.rolled_back == ("a",)
    assert result.left_in_place == ("s",)
    assert ("compensate", "s") not in journal.done
