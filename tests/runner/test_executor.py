"""The executor: order, parallelism, failure and rollback, timeouts, cancellation."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from qengine._errors import TargetLockedError
from qengine._events import Event, EventType
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.events import EventSink
from qengine.interfaces.state import StepState
from qengine.runner import (
    CallbackSink,
    ChangeAction,
    Executor,
    JobRef,
    JobStatus,
    MemoryStateStore,
    Plan,
    SqliteStateStore,
    Step,
    StepContext,
    StepStatus,
)
from qengine.testing.events import RecordingSink
from qengine.testing.steps import StepFactory, build_plan
from runner.support import FAST_RETRY

JOB = JobRef(job_id="job-1", organization_id="org-1", target_id="cluster/demo")


def executor(**kwargs: object) -> Executor:
    settings: dict[str, object] = {"retry": FAST_RETRY, "cancel_grace_seconds": 5.0}
    settings.update(kwargs)
    return Executor(**settings)  # type: ignore[arg-type]


def test_a_job_succeeds_and_passes_outputs_down(
    factory: StepFactory, collector: RecordingSink
) -> None:
    plan = build_plan(factory, "a; b <- a; c <- a; d <- b,c")
    result = executor().run(plan, JOB, sinks=[collector])
    assert result.status is JobStatus.SUCCEEDED
    assert result.exit_code == 0
    assert result.outputs["d"] == {"step": "d", "after": "b,c"}
    assert [o.status for o in result.steps] == [StepStatus.SUCCEEDED] * 4
    assert [c.name for c in result.changes] == factory.recorder.steps("run")
    assert result.rolled_back == ()
    assert result.left_in_place == ()
    assert collector.types()[0] == "job.started"
    assert collector.types()[-1] == "job.finished"
    assert collector.closed
    assert {e.organization_id for e in collector.events} == {"org-1"}
    assert {e.target_id for e in collector.events} == {"cluster/demo"}


def test_dependency_order_is_respected(factory: StepFactory, collector: RecordingSink) -> None:
    description = "; ".join(
        ["root"]
        + [f"mid{i}:sleep=0.0{i % 3} <- root" for i in range(8)]
        + ["join <- " + ",".join(f"mid{i}" for i in range(8))]
    )
    plan = build_plan(factory, description)
    executor().run(plan, JOB, sinks=[collector])
    finished_at: dict[str, int] = {}
    for index, event in enumerate(collector.events):
        if event.type is EventType.STEP_FINISHED and event.step_id:
            finished_at[event.step_id] = index
        if event.type is EventType.STEP_STARTED and event.step_id:
            for dep in plan.step(event.step_id).depends_on:
                assert finished_at[dep] < index, f"{event.step_id} started before {dep} finished"
    assert len(finished_at) == 10


@pytest.mark.parametrize("max_parallel", [1, 3, 4])
def test_parallelism_bound_is_respected(factory: StepFactory, max_parallel: int) -> None:
    plan = build_plan(factory, "; ".join(f"s{i}:sleep=0.05" for i in range(12)))
    started = time.monotonic()
    result = executor(max_parallel=max_parallel).run(plan, JOB)
    took = time.monotonic() - started
    assert result.status is JobStatus.SUCCEEDED
    assert factory.recorder.max_concurrent == max_parallel
    # 12 steps of 0.05s in waves of max_parallel: the bound is used, not just respected.
    waves = -(-12 // max_parallel)
    assert 0.05 * waves <= took < 0.05 * waves + 1.0


def test_default_parallelism_is_four(factory: StepFactory) -> None:
    plan = build_plan(factory, "; ".join(f"s{i}:sleep=0.05" for i in range(9)))
    Executor().run(plan, JOB)
    assert factory.recorder.max_concurrent == 4


def test_first_failure_stops_new_work_and_rolls_back_in_reverse(
    factory: StepFactory, collector: RecordingSink
) -> None:
    plan = build_plan(
        factory, "a; b:sleep=0.05 <- a; c:sleep=0.1 <- a; d:fail <- b; e <- d; f <- c; g <- a"
    )
    result = executor(max_parallel=2).run(plan, JOB, sinks=[collector])
    assert result.status is JobStatus.FAILED
    assert result.exit_code == 1
    assert result.error is not None
    assert result.error.message == "step d failed as told"
    assert result.error.hint == "It is a test step."
    ran = factory.recorder.steps("run")
    assert "e" not in ran
    assert "f" not in ran
    completed = [e.step_id for e in collector.events if e.type is EventType.STEP_FINISHED]
    assert factory.recorder.steps("compensate") == list(reversed(completed))
    assert list(result.rolled_back) == list(reversed(completed))
    assert result.outcome("d").status is StepStatus.FAILED
    assert result.outcome("e").status is StepStatus.CANCELLED
    assert result.outcome("f").status is StepStatus.CANCELLED
    assert "d" in result.left_in_place
    failed = next(e for e in collector.events if e.type is EventType.STEP_FAILED)
    assert failed.data["hint"] == "It is a test step."


def test_steps_running_at_the_failure_finish_and_are_rolled_back(factory: StepFactory) -> None:
    plan = build_plan(factory, "slow:sleep=0.3; boom:fail")
    result = executor().run(plan, JOB)
    assert result.outcome("slow").status is StepStatus.SUCCEEDED
    assert result.rolled_back == ("slow",)


def test_steps_without_compensation_or_failing_it_are_left_in_place(
    factory: StepFactory, collector: RecordingSink
) -> None:
    plan = build_plan(factory, "a:nocomp; b:failcomp <- a; c <- b; d:fail <- c")
    result = executor().run(plan, JOB, sinks=[collector])
    assert result.rolled_back == ("c",)
    assert result.left_in_place == ("d", "b", "a")
    warnings = [e.message for e in collector.events if e.type is EventType.WARNING]
    assert any("rollback of b failed" in message for message in warnings)


def test_per_step_timeout_cancels_the_step_and_fails_the_job(factory: StepFactory) -> None:
    plan = build_plan(factory, "a; h:hang:timeout=0.2 <- a; after <- h")
    started = time.monotonic()
    result = executor().run(plan, JOB)
    assert time.monotonic() - started < 2
    outcome = result.outcome("h")
    assert outcome.status is StepStatus.FAILED
    assert outcome.error is not None
    assert outcome.error.timed_out
    assert "timed out after 0.2s" in outcome.error.message
    assert result.outcome("after").status is StepStatus.CANCELLED
    assert result.rolled_back == ("a",)


def test_runner_stops_waiting_for_a_step_deaf_to_its_timeout(factory: StepFactory) -> None:
    plan = build_plan(factory, "deaf:stuck=3:timeout=0.2")
    started = time.monotonic()
    result = executor().run(plan, JOB)
    assert time.monotonic() - started < 1.5
    assert result.outcome("deaf").status is StepStatus.FAILED


def test_transient_failures_are_retried_within_the_step(
    factory: StepFactory, collector: RecordingSink
) -> None:
    plan = build_plan(factory, "flaky:transient=2")
    result = executor().run(plan, JOB, sinks=[collector])
    assert result.status is JobStatus.SUCCEEDED
    assert result.outcome("flaky").attempts == 3
    assert factory.recorder.counts("run")["flaky"] == 3
    assert collector.types("flaky").count("warning") == 2


def test_retry_budget_exhausted_fails_the_step(factory: StepFactory) -> None:
    plan = build_plan(factory, "flaky:transient=10")
    result = executor().run(plan, JOB)
    assert result.status is JobStatus.FAILED
    assert factory.recorder.counts("run")["flaky"] == FAST_RETRY.max_attempts


def test_cancellation_mid_job_rolls_back_and_leaves_a_consistent_journal(
    factory: StepFactory, collector: RecordingSink, state_dir: Path
) -> None:
    plan = build_plan(factory, "a; b <- a; h1:hang <- b; h2:hang <- b; later <- h1")
    token = CancelToken()
    store = SqliteStateStore(state_dir)

    def cancel_when_hanging() -> None:
        while (
            factory.recorder.steps("run").count("h1") + factory.recorder.steps("run").count("h2")
            < 2
        ):
            time.sleep(0.01)
        token.cancel("operator asked")

    threading.Thread(target=cancel_when_hanging, daemon=True).start()
    result = executor(store=store).run(plan, JOB, sinks=[collector], cancel=token)
    assert result.status is JobStatus.CANCELLED
    assert result.exit_code == 3
    assert result.error is not None
    assert "operator asked" in result.error.message
    assert result.rolled_back == ("b", "a")
    assert set(result.left_in_place) == {"h1", "h2"}
    assert result.outcome("later").status is StepStatus.CANCELLED
    states = {r.step_id: r.status for r in store.step_records(JOB.job_id)}
    assert states == {
        "a": StepState.COMPENSATED,
        "b": StepState.COMPENSATED,
        "h1": StepState.CANCELLED,
        "h2": StepState.CANCELLED,
    }
    assert store.lock_holder(JOB.target_id) is None


def test_forced_cancellation_skips_rollback(factory: StepFactory) -> None:
    plan = build_plan(factory, "a; h:stuck=2 <- a")
    token = CancelToken()

    def cancel_twice() -> None:
        while "h" not in factory.recorder.steps("run"):
            time.sleep(0.01)
        token.cancel("first signal")
        token.cancel("second signal", force=True)

    threading.Thread(target=cancel_twice, daemon=True).start()
    started = time.monotonic()
    result = executor(cancel_grace_seconds=30).run(plan, JOB, cancel=token)
    assert time.monotonic() - started < 1.5
    assert result.status is JobStatus.CANCELLED
    assert result.rolled_back == ()
    assert result.left_in_place == ("h", "a")


def test_a_job_cancelled_before_it_starts_runs_nothing(factory: StepFactory) -> None:
    token = CancelToken()
    token.cancel("too late")
    result = executor().run(build_plan(factory, "a; b <- a"), JOB, cancel=token)
    assert result.status is JobStatus.CANCELLED
    assert factory.recorder.entries == []


def test_concurrent_jobs_see_only_their_own_events_and_outputs() -> None:
    results = {}
    collectors = {name: RecordingSink() for name in ("one", "two", "three")}
    shared = Executor(retry=FAST_RETRY, store=MemoryStateStore())

    def job(name: str) -> None:
        def run(ctx: StepContext) -> dict[str, str]:
            ctx.emit_progress(f"working for {ctx.job_id}")
            time.sleep(0.01)
            return {"owner": ctx.job_id, "saw": ctx.inputs.get("first", {}).get("owner", "")}

        steps = [Step(id="first", run=run)] + [
            Step(id=f"s{i}", run=run, depends_on=("first",)) for i in range(6)
        ]
        ref = JobRef(job_id=f"job-{name}", target_id=f"env/{name}")
        results[name] = shared.run(Plan(steps), ref, sinks=[collectors[name]])

    threads = [threading.Thread(target=job, args=(name,)) for name in collectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, collector in collectors.items():
        job_id = f"job-{name}"
        assert results[name].status is JobStatus.SUCCEEDED
        assert {e.job_id for e in collector.events} == {job_id}
        progress = [e.message for e in collector.events if e.type is EventType.STEP_PROGRESS]
        assert progress == [f"working for {job_id}"] * 7
        for outputs in results[name].outputs.values():
            assert outputs["owner"] == job_id
            assert outputs["saw"] in ("", job_id)


def test_messages_are_redacted_before_any_sink(
    factory: StepFactory, collector: RecordingSink
) -> None:
    secret = "hunter2-s3cr3t"
    plan = build_plan(factory, f"a:say=token is {secret}; b:fail <- a")
    result = executor().run(
        plan, JOB, sinks=[collector], redact=lambda text: text.replace(secret, "[redacted]")
    )
    lines = [event.to_json() for event in collector.events]
    assert not any(secret in line for line in lines)
    assert any("token is [redacted]" in line for line in lines)
    assert result.status is JobStatus.FAILED


def test_a_failing_sink_is_dropped_without_failing_the_job(
    factory: StepFactory, collector: RecordingSink
) -> None:
    def explode(event: Event) -> None:
        raise RuntimeError("host bug")

    result = executor().run(build_plan(factory, "a"), JOB, sinks=[CallbackSink(explode), collector])
    assert result.status is JobStatus.SUCCEEDED
    assert "dropped" in collector.events[0].message
    assert collector.types()[-1] == "job.finished"


def test_unexpected_exceptions_become_failures_with_a_defect_hint() -> None:
    def broken(ctx: StepContext) -> dict[str, str]:
        raise KeyError("missing")

    result = executor().run(Plan([Step(id="broken", run=broken)]), JOB)
    error = result.outcome("broken").error
    assert error is not None
    assert error.kind == "KeyError"
    assert "defect" in error.hint


def test_outputs_must_be_strings() -> None:
    bad = Step(id="bad", run=lambda ctx: {"n": 1})  # type: ignore[dict-item]
    result = executor().run(Plan([bad]), JOB)
    error = result.outcome("bad").error
    assert error is not None
    assert error.kind == "PluginError"


def test_resource_changes_reach_the_result(factory: StepFactory) -> None:
    result = executor().run(build_plan(factory, "a; b <- a"), JOB)
    assert [(c.action, c.name) for c in result.changes] == [
        (ChangeAction.CREATE, "a"),
        (ChangeAction.CREATE, "b"),
    ]


def test_a_locked_target_refuses_the_job_with_exit_code_4(factory: StepFactory) -> None:
    store = MemoryStateStore()
    store.acquire_lock(JOB.target_id, "another-job")
    with pytest.raises(TargetLockedError, match="another-job") as caught:
        executor(store=store).run(build_plan(factory, "a"), JOB)
    assert caught.value.exit_code == 4
    assert factory.recorder.entries == []


class _Recording(EventSink):
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


def test_resume_skips_finished_steps_and_reconciles_the_one_in_flight(state_dir: Path) -> None:
    first = StepFactory()
    store = SqliteStateStore(state_dir)
    crashed = build_plan(first, "a; b <- a; c:fail <- b")
    executor(store=store).run(crashed, JOB)
    # Pretend the process died while "b" ran: the journal shows it started, not finished.
    second = StepFactory()
    plan = build_plan(second, "a; b:reconcile=done <- a; c <- b; d <- c")
    from qengine.interfaces.state import StepRecord

    for step_id in ("a", "b"):
        store.record_step(
            StepRecord(
                job_id=JOB.job_id,
                step_id=step_id,
                idempotency_key=plan.step(step_id).key_for(JOB.job_id),
                status=StepState.SUCCEEDED if step_id == "a" else StepState.STARTED,
                outputs={"step": step_id, "after": ""} if step_id == "a" else {},
            )
        )
    sink = _Recording()
    result = executor(store=store).run(plan, JOB, sinks=[sink])
    assert result.status is JobStatus.SUCCEEDED
    assert second.recorder.steps("run") == ["c", "d"]
    assert second.recorder.steps("reconcile") == ["b"]
    assert result.outcome("a").status is StepStatus.SKIPPED
    assert result.outcome("b").reconciled
    assert result.outputs["a"] == {"step": "a", "after": ""}
    assert [e.step_id for e in sink.events if e.type is EventType.STEP_SKIPPED] == ["a"]


def test_forcing_during_rollback_leaves_the_rest_in_place() -> None:
    token = CancelToken()
    undone: list[str] = []

    def run(ctx: StepContext) -> dict[str, str]:
        return {}

    def slow_undo(ctx: StepContext) -> None:
        undone.append(ctx.step_id)
        token.cancel("operator", force=True)
        ctx.cancel.wait(0.2)

    def fail(ctx: StepContext) -> dict[str, str]:
        raise ValueError("boom")

    steps = [
        Step(id="a", run=run, compensate=slow_undo),
        Step(id="b", run=run, compensate=slow_undo, depends_on=("a",)),
        Step(id="c", run=fail, depends_on=("b",)),
    ]
    result = executor().run(Plan(steps), JOB, cancel=token)
    assert undone == ["b"]
    assert result.rolled_back == ()
    assert result.left_in_place == ("c", "b", "a")
