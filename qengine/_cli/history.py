"""``qengine history``: the jobs run with a state directory, newest first.

Read from the audit log (``STATE_DIR/audit.jsonl``, or ``--audit-log``), which records each
run's acceptance and end whatever store journals its steps, sandbox runs included: a run is a
``job.accepted`` record and the ``job.finished`` of the same job after it; a refused job is
its ``job.refused`` record.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
from collections.abc import Iterable, Mapping

import attrs

from qengine._cli.common import add_output_option, print_json
from qengine._errors import InvalidInputError
from qengine._paths import resolve_state_dir

_KINDS = {"environment": "EnvironmentJob", "cluster": "InfrastructureJob"}


@attrs.frozen(kw_only=True)
class PastJob:
    """One run (or refusal) of a job, as the audit log tells it."""

    job_id: str
    kind: str
    action: str
    target: str
    started: str
    finished: str | None
    result: str

    def duration(self) -> float | None:
        """Seconds from acceptance to end, or None while unfinished."""
        if self.finished is None:
            return None
        return (_moment(self.finished) - _moment(self.started)).total_seconds()

    def to_json(self) -> dict[str, object]:
        """The run as JSON (``duration_seconds`` null while unfinished)."""
        return {
            "job_id": self.job_id,
            "kind": self.kind,
            "action": self.action,
            "target": self.target,
            "started": self.started,
            "duration_seconds": self.duration(),
            "result": self.result,
        }


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``history``."""
    parser = subparsers.add_parser(
        "history",
        help="list past jobs, newest first",
        description="List the jobs run with this state directory, newest first: id, kind, "
        "action, target, when each started, how long it took and how it ended (sandbox runs "
        "included), from the audit log.",
    )
    parser.add_argument("--state-dir", type=pathlib.Path, help="state directory")
    parser.add_argument(
        "--audit-log",
        type=pathlib.Path,
        metavar="FILE",
        help="audit log (default: STATE_DIR/audit.jsonl)",
    )
    parser.add_argument(
        "--limit", type=int, default=20, metavar="N", help="show the N newest (default: 20)"
    )
    add_output_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the past jobs; 0 (an empty history too), 2 for a log that cannot be read."""
    if args.limit < 1:
        raise InvalidInputError(f"--limit {args.limit}: give at least 1")
    if args.audit_log is not None and args.state_dir is not None:
        raise InvalidInputError(
            "--audit-log and --state-dir both say where the history is",
            hint="Give one: --audit-log FILE, or --state-dir DIR for DIR/audit.jsonl.",
        )
    path = args.audit_log or resolve_state_dir(args.state_dir, os.environ) / "audit.jsonl"
    jobs = past_jobs(_records(path))[: args.limit] if path.exists() else []
    if args.output == "json":
        print_json([job.to_json() for job in jobs])
        return 0
    if not jobs:
        print(f"no job has run with {path}")
        return 0
    rows = [("JOB", "KIND", "ACTION", "TARGET", "STARTED", "DURATION", "RESULT")]
    rows += [
        (j.job_id, j.kind, j.action, j.target, j.started, _seconds(j.duration()), j.result)
        for j in jobs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), end=""
        )
        print(f"  {row[-1]}")
    return 0


def past_jobs(records: Iterable[Mapping[str, object]]) -> list[PastJob]:
    """The runs and refusals in ``records`` (in log order), newest first."""
    found: list[PastJob] = []
    open_runs: dict[str, int] = {}  # job id -> index in found of its unfinished run
    for record in records:
        action, job_id = str(record.get("action", "")), str(record.get("job_id", "?"))
        details = record.get("details")
        details = details if isinstance(details, Mapping) else {}
        target, when = str(record.get("target", "")), str(record.get("time", ""))
        kind = _KINDS.get(target.split("/", 1)[0], "?")
        if action == "job.accepted":
            open_runs[job_id] = len(found)
            what = str(details.get("job_action", "?"))
            found.append(
                PastJob(
                    job_id=job_id,
                    kind=kind,
                    action=what,
                    target=target,
                    started=when,
                    finished=None,
                    result="unfinished",
                )
            )
        elif action == "job.finished" and job_id in open_runs:
            index = open_runs.pop(job_id)
            found[index] = attrs.evolve(
                found[index], finished=when, result=_result(str(record.get("outcome", "?")))
            )
        elif action == "job.refused":
            reason = details.get("reason") or record.get("outcome", "?")
            found.append(
                PastJob(
                    job_id=job_id,
                    kind=kind,
                    action="?",
                    target=target or "-",
                    started=when,
                    finished=when,
                    result=f"refused ({reason})",
                )
            )
    return found[::-1]


def _result(outcome: str) -> str:
    # A run that ended before its first step records the error's class instead of a status.
    return outcome if outcome in ("succeeded", "failed", "cancelled") else f"not run ({outcome})"


def _records(path: pathlib.Path) -> Iterable[Mapping[str, object]]:
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the audit log {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            raise InvalidInputError(
                f"{path}, line {number}, is not JSON",
                hint=f"Check the log with `qengine audit verify {path}`.",
            ) from None
        if isinstance(record, dict):
            yield record


def _moment(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s"
