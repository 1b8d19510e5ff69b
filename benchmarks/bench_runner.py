"""Runner overhead: a 1,000-step job of no-op steps, journal on versus off, in one run.

    PYTHONPATH=. python3 benchmarks/bench_runner.py [--steps 1000] [--runs 7]

Two shapes: a chain (each step depends on the previous one: no parallelism, pure scheduling
latency) and a wide fan-out (one root, every other step depends on it: the pool is kept
full). Each is run with the journal off (the in-memory store) and on (the SQLite store in a
temporary directory, WAL, ``synchronous=NORMAL``, and for reference ``FULL``). Figures are the
median of several runs, per step, and the ratio against journal-off measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from qengine.interfaces.state import StateStore
from qengine.runner import Executor, JobRef, MemoryStateStore, Plan, SqliteStateStore, Step
from qengine.runner.steps import StepContext


def _noop(_ctx: StepContext) -> Mapping[str, str]:
    return {}


def chain(size: int) -> Plan:
    """``s0 <- s1 <- ... <- s{size-1}``."""
    return Plan(
        Step(id=f"s{i}", run=_noop, depends_on=(f"s{i - 1}",) if i else ()) for i in range(size)
    )


def fan_out(size: int) -> Plan:
    """One root and ``size - 1`` steps that depend on it alone."""
    root = Step(id="root", run=_noop)
    return Plan(
        [root, *(Step(id=f"s{i}", run=_noop, depends_on=("root",)) for i in range(1, size))]
    )


def _seconds(executor: Executor, plan: Plan, label: str) -> float:
    job = JobRef(job_id=f"bench-{label}-{time.monotonic_ns()}", target_id="bench")
    started = time.perf_counter()
    result = executor.run(plan, job)
    took = time.perf_counter() - started
    assert result.exit_code == 0, result.error
    return took


def _medians(plan: Plan, stores: dict[str, StateStore], runs: int) -> dict[str, float]:
    """Median job time per store; runs are interleaved so every store sees the same noise."""
    executors = {label: Executor(store=store) for label, store in stores.items()}
    timings: dict[str, list[float]] = {label: [] for label in stores}
    for _ in range(runs):
        for label, executor in executors.items():
            timings[label].append(_seconds(executor, plan, label.split()[0]))
    return {label: statistics.median(values) for label, values in timings.items()}


def _stores(directory: Path) -> dict[str, Callable[[], StateStore]]:
    return {
        "journal off (memory)": MemoryStateStore,
        "journal on (sqlite, normal)": lambda: SqliteStateStore(directory / "normal"),
        "journal on (sqlite, full)": lambda: SqliteStateStore(
            directory / "full", synchronous="full"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"{args.steps} no-op steps, median of {args.runs} runs, max_parallel=4")
    print(f"{'shape':<8} {'store':<28} {'job (ms)':>9} {'per step (us)':>14} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for shape, build in (("chain", chain), ("fan-out", fan_out)):
            stores = {label: make() for label, make in _stores(Path(tmp) / shape).items()}
            medians = _medians(build(args.steps), stores, args.runs)
            baseline = medians["journal off (memory)"]
            for label, seconds in medians.items():
                per_step = seconds / args.steps * 1e6
                print(
                    f"{shape:<8} {label:<28} {seconds * 1e3:9.1f} {per_step:14.1f} "
                    f"{seconds / baseline:6.2f}"
                )
            for store in stores.values():
                store.close()


if __name__ == "__main__":
    main()
