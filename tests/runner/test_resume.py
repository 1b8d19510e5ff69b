"""Resume semantics in one process: what a journal entry means for the next run of a job."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from qengine.interfaces.state import StepRecord, StepState
from qengine.runner import Executor, JobRef, JobStatus, Plan, SqliteStateStore, StepStatus
from qengine.runner.steps import Scratch, ScratchKey, Step, StepContext
from qengine.testing.steps import StepFactory, build_plan
from runner.support import FAST_RETRY

JOB = JobRef(job_id="job-resume", target_id="env/resume")


def _journal(store: SqliteStateStore, plan: Plan, **states: StepState) -> None:
    for step_id, state in states.items():
        store.record_step(
            StepRecord(
                job_id=JOB.job_id,
                step_id=step_id,
                idempotency_key=plan.step(step_id).key_for(JOB.job_id),
                status=state,
                outputs={"step": step_id, "after": ""} if state is StepState.SUCCEEDED else {},
            )
        )


def test_a_finished_job_run_again_does_nothing(state_dir: Path, factory: StepFactory) -> None:
    store = SqliteStateStore(state_dir)
    plan = build_plan(factory, "a; b <- a")
    executor = Executor(store=store, retry=FAST_RETRY)
    assert executor.run(plan, JOB).status is JobStatus.SUCCEEDED
    again = executor.run(plan, JOB)
    assert again.status is JobStatus.SUCCEEDED
    assert [o.status for o in again.steps] == [StepStatus.SKIPPED, StepStatus.SKIPPED]
    assert again.outputs["b"] == {"step": "b", "after": "a"}
    assert factory.recorder.counts("run") == {"a": 1, "b": 1}
    store.close()


def test_a_failed_and_rolled_back_job_runs_again_in_full(
    state_dir: Path, factory: StepFactory
) -> None:
    store = SqliteStateStore(state_dir)
    executor = Executor(store=store, retry=FAST_RETRY)
    executor.run(build_plan(factory, "a; b:fail:hash=b <- a"), JOB)
    fixed = executor.run(build_plan(factory, "a; b:hash=b <- a"), JOB)
    assert fixed.status is JobStatus.SUCCEEDED
    assert factory.recorder.counts("run") == {"a": 2, "b": 2}
    store.close()


def test_an_in_flight_step_that_reconciles_to_redo_runs_again(
    state_dir: Path, factory: StepFactory
) -> None:
    store = SqliteStateStore(state_dir)
    plan = build_plan(factory, "a; b:reconcile=redo <- a")
    _journal(store, plan, a=StepState.SUCCEEDED, b=StepState.STARTED)
    result = Executor(store=store, retry=FAST_RETRY).run(plan, JOB)
    assert result.status is JobStatus.SUCCEEDED
    assert factory.recorder.steps("reconcile") == ["b"]
    assert factory.recorder.steps("run") == ["b"]
    assert not result.outcome("b").reconciled
    store.close()


def test_an_edited_step_is_not_mistaken_for_its_journal_entry(
    state_dir: Path, factory: StepFactory
) -> None:
    store = SqliteStateStore(state_dir)
    old = build_plan(factory, "a:hash=v1; b <- a")
    _journal(store, old, a=StepState.SUCCEEDED, b=StepState.SUCCEEDED)
    edited = build_plan(factory, "a:hash=v2; b <- a; c")
    _journal(store, edited, c=StepState.SUCCEEDED)
    result = Executor(store=store, retry=FAST_RETRY).run(edited, JOB)
    # "a" changed, so it runs; "b" runs again because its input may have changed.
    assert result.outcome("a").status is StepStatus.SUCCEEDED
    assert result.outcome("b").status is StepStatus.SUCCEEDED
    assert result.outcome("c").status is StepStatus.SKIPPED
    assert factory.recorder.steps("run") == ["a", "b"]
    store.close()


def test_steps_restored_from_the_journal_are_rolled_back_too(
    state_dir: Path, factory: StepFactory
) -> None:
    store = SqliteStateStore(state_dir)
    plan = build_plan(factory, "a; b <- a; c <- b; d:fail <- c")
    _journal(store, plan, a=StepState.SUCCEEDED, b=StepState.SUCCEEDED)
    result = Executor(store=store, retry=FAST_RETRY).run(plan, JOB)
    assert result.status is JobStatus.FAILED
    assert result.rolled_back == ("c", "b", "a")
    assert factory.recorder.steps("compensate") == ["c", "b", "a"]
    states = {r.step_id: r.status for r in store.step_records(JOB.job_id)}
    assert states["a"] is StepState.COMPENSATED
    assert states["b"] is StepState.COMPENSATED
    store.close()


KUBECONFIG = ScratchKey("kubeconfig", Path)


def test_scratch_is_typed_shared_and_its_directory_removed() -> None:
    seen: dict[str, Path] = {}

    def write(ctx: StepContext) -> dict[str, str]:
        assert ctx.scratch.directory is not None
        path = ctx.scratch.directory / "kubeconfig"
        path.write_text("apiVersion: v1")
        ctx.scratch.put(KUBECONFIG, path)
        return {}

    def read(ctx: StepContext) -> dict[str, str]:
        seen["path"] = ctx.scratch.require(KUBECONFIG)
        assert seen["path"].read_text() == "apiVersion: v1"
        return {}

    plan = Plan([Step(id="write", run=write), Step(id="read", run=read, depends_on=("write",))])
    result = Executor().run(plan, JOB)
    assert result.status is JobStatus.SUCCEEDED
    assert not seen["path"].exists()
    assert not seen["path"].parent.exists()


def test_scratch_refuses_the_wrong_type_and_names_missing_keys() -> None:
    scratch = Scratch()
    with pytest.raises(TypeError, match="kubeconfig"):
        scratch.put(KUBECONFIG, cast("Path", "not a path"))
    assert scratch.get(KUBECONFIG) is None
    with pytest.raises(LookupError, match="kubeconfig"):
        scratch.require(KUBECONFIG)
