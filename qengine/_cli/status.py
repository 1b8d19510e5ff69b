"""``qengine status JOB_ID``: what the journal knows of a job."""

from __future__ import annotations

import argparse
import os
import pathlib

from qengine._cli.common import add_output_option, print_json
from qengine._cli.state_opts import add_state_options, open_store, state_url
from qengine._errors import InvalidInputError
from qengine._paths import resolve_state_dir


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``status``."""
    parser = subparsers.add_parser(
        "status",
        help="show what the journal knows of a job",
        description="Show a job's final status (if it finished) and each journalled step.",
    )
    parser.add_argument("job_id", help="the job's id")
    parser.add_argument("--state-dir", type=pathlib.Path, help="state directory")
    add_state_options(parser)
    add_output_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the job's status; exit 2 if the journal has never seen it."""
    directory = resolve_state_dir(args.state_dir, os.environ)
    url = state_url(args, os.environ)
    if url is None and not (directory / "qengine.sqlite3").exists():
        raise InvalidInputError(
            f"no state store in {directory}",
            hint="Pass the --state-dir the job ran with; `qengine history` lists the jobs run "
            "with a state directory (a --sandbox run keeps a journal only with a --state-dir).",
        )
    store = open_store(args, directory)
    try:
        records, status = store.step_records(args.job_id), store.job_status(args.job_id)
    finally:
        store.close()
    if not records and status is None:
        where = "the shared state store" if url else f"the journal in {directory}"
        raise InvalidInputError(
            f"{where} has no job {args.job_id!r}",
            hint="`qengine history` lists the jobs run with this state directory; a --sandbox "
            "run keeps a journal only when given a --state-dir of its own.",
        )
    shown = status or "unfinished (interrupted or running; `qengine run` resumes it)"
    if args.output == "json":
        print_json(
            {
                "ok": True,
                "job_id": args.job_id,
                "status": status,
                "steps": [
                    {"step_id": r.step_id, "status": r.status.value, "outputs": dict(r.outputs)}
                    for r in records
                ],
            }
        )
        return 0
    print(f"job {args.job_id}: {shown}")
    for record in records:
        print(f"  {record.step_id:30} {record.status.value}")
    return 0
