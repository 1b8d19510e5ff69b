"""``qengine run SPEC``: carry out a job, with live progress, events and a recap."""

from __future__ import annotations

import argparse
import pathlib
import sys

from qengine._cli.common import add_output_option, print_json, read_spec_document
from qengine._cli.sandbox_secrets import add_sandbox_options, sandbox_secrets


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``run``."""
    from qengine._cli.engine_opts import add_engine_options

    parser = subparsers.add_parser(
        "run",
        help="run a job (resumes it if it was interrupted)",
        description="Check, plan and run a job under its target's lock. Progress goes to "
        "standard error; SIGINT or SIGTERM cancels gracefully (a second one forces). Exit "
        "codes: 0 succeeded, 1 failed (rolled back), 2 invalid input, 3 cancelled, 4 locked.",
    )
    parser.add_argument("spec", help="the job spec file (JSON), or - for standard input")
    parser.add_argument(
        "--events",
        type=pathlib.Path,
        metavar="FILE",
        help="also write every event to FILE as JSON lines",
    )
    parser.add_argument(
        "--wait-lock",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a target locked by another job (default: 0)",
    )
    add_output_option(parser)
    add_sandbox_options(parser)
    add_engine_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the job; the exit code says how it ended."""
    from qengine._cli.engine_opts import engine_from
    from qengine.interfaces.cancel import CancelToken
    from qengine.interfaces.events import EventSink
    from qengine.runner import ConsoleSink, JsonLinesSink
    from qengine.runner.signals import cancel_on_signals
    from qengine.secrets.hygiene import disable_core_dumps

    disable_core_dumps()
    document = read_spec_document(args.spec)
    sinks: list[EventSink] = [ConsoleSink(sys.stderr)]
    if args.events is not None:
        sinks.append(JsonLinesSink(args.events))
    token = CancelToken()
    with engine_from(args) as engine, cancel_on_signals(token):
        result = engine.run(
            document,
            sinks=sinks,
            cancel=token,
            wait_lock=args.wait_lock,
            sandbox_secrets=sandbox_secrets(args),
            sandbox=args.sandbox,
        )
    if args.output == "json":
        print_json(result.to_json())
    return result.exit_code
