"""The console view's cost: a job's events through the live rich view, against plain lines and
against no console at all, in the same run.

Run: ``PYTHONPATH=. python3 benchmarks/bench_console.py [--rounds N] [--steps N]``. Prints the
median wall time (seconds) of one job of N quick steps, 16 in parallel, per sink (no console:
the baseline; plain lines to a pipe-like stream; the live view drawn on a terminal-like
stream at 60 and at 200 columns) and each one's ratio to the baseline; and the time ``import
rich`` and the first live view add to a process (``python -X importtime`` is not used: the
figure is the import in a fresh interpreter, the median of the rounds).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from rich.console import Console

from qengine.interfaces.events import EventSink
from qengine.runner import CallbackSink, ConsoleSink, Executor, JobRef
from qengine.testing.steps import StepFactory, build_plan

JOB = JobRef(job_id="bench-console", organization_id="org-1", target_id="env/bench")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _live(width: int) -> Callable[[], list[EventSink]]:
    def make() -> list[EventSink]:
        console = Console(file=_Terminal(), width=width, force_terminal=True)
        return [ConsoleSink(io.StringIO(), console=console)]

    return make


def _job_seconds(steps: int, sinks: Callable[[], list[EventSink]]) -> float:
    description = "; ".join(f"s{i}:say=step {i} half way" for i in range(steps))
    plan = build_plan(StepFactory(), description)
    started = time.perf_counter()
    Executor(max_parallel=16).run(plan, JOB, sinks=sinks())
    return time.perf_counter() - started


def _import_seconds() -> float:
    script = (
        "import time; t = time.perf_counter(); import rich.live; print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    return float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    kinds: dict[str, Callable[[], list[EventSink]]] = {
        "no console (baseline)": list,
        "plain lines": lambda: [ConsoleSink(io.StringIO())],
        "live view, 60 columns": _live(60),
        "live view, 200 columns": _live(200),
    }
    events: list[object] = []
    _job_seconds(args.steps, lambda: [CallbackSink(events.append)])
    medians = {}
    for name, sinks in kinds.items():
        _job_seconds(10, sinks)  # warm-up: imports, first rendering
        runs = [_job_seconds(args.steps, sinks) for _ in range(args.rounds)]
        medians[name] = statistics.median(runs)
    base = medians["no console (baseline)"]
    print(f"one job of {args.steps} steps, {len(events)} events, median of {args.rounds} rounds")
    for name, seconds in medians.items():
        per_event = (seconds - base) / len(events) * 1e6
        print(f"  {name:<24} {seconds:8.4f}s  x{seconds / base:5.2f}  +{per_event:6.1f} us/event")
    imported = statistics.median(_import_seconds() for _ in range(args.rounds))
    print(f"import rich.live in a fresh interpreter: {imported:.4f}s (median)")


if __name__ == "__main__":
    main()
