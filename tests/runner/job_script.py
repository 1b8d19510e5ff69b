"""Run one job of test steps with the SQLite journal, as a real process a test can kill.

    python job_script.py --state-dir DIR --job-id ID --plan "a; b <- a" --log FILE

Prints the result as one JSON line and exits with the job's exit code (0, 1, 3; 4 when the
target is locked). SIGTERM or SIGINT cancels the job gracefully; a second one forces.
Signal handlers are installed here, in the main thread, as ``qengine run`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qengine._errors import QengineError
from qengine.interfaces.cancel import CancelToken
from qengine.retry import RetryPolicy
from qengine.runner import Executor, JobRef, JsonLinesSink, SqliteStateStore
from qengine.runner.signals import cancel_on_signals
from qengine.testing.steps import StepFactory, StepRecorder, build_plan


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--events", type=Path)
    parser.add_argument("--target", default="env/demo")
    parser.add_argument("--grace", type=float, default=10.0)
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    factory = StepFactory(StepRecorder(args.log))
    plan = build_plan(factory, args.plan)
    executor = Executor(
        store=SqliteStateStore(args.state_dir),
        retry=RetryPolicy(initial_backoff=0.01),
        cancel_grace_seconds=args.grace,
    )
    sinks = [JsonLinesSink(args.events)] if args.events else []
    job = JobRef(job_id=args.job_id, organization_id="org-test", target_id=args.target)
    try:
        with cancel_on_signals(CancelToken()) as token:
            result = executor.run(plan, job, sinks=sinks, cancel=token)
    except QengineError as exc:
        print(json.dumps({"error": exc.message, "hint": exc.hint}), flush=True)
        return exc.exit_code
    summary = {
        "status": result.status.value,
        "steps": {outcome.step_id: outcome.status.value for outcome in result.steps},
        "rolled_back": list(result.rolled_back),
        "left_in_place": list(result.left_in_place),
    }
    print(json.dumps(summary), flush=True)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
