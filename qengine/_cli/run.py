"""``qengine run SPEC [SPEC ...]``: carry out jobs in order, with live progress, events and a
recap; with ``--sandbox`` they share one sandbox session."""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import TYPE_CHECKING

from qengine._cli.common import (
    add_output_option,
    print_json,
    read_spec_document,
    refuse_sealed_sandbox,
)
from qengine._cli.sandbox_secrets import (
    add_sandbox_options,
    refuse_real_targets,
    sandbox_secrets,
)
from qengine._errors import InvalidInputError

if TYPE_CHECKING:
    from qengine._engine import Engine


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``run``."""
    from qengine._cli.engine_opts import add_engine_options

    parser = subparsers.add_parser(
        "run",
        help="run a job (resumes it if it was interrupted)",
        description="Check, plan and run a job under its target's lock. Progress goes to "
        "standard error; SIGINT or SIGTERM cancels gracefully (a second one forces). Exit "
        "codes: 0 succeeded, 1 failed (rolled back), 2 invalid input, 3 cancelled, 4 locked. "
        "Several specs run one after the other, all checked before the first starts; the "
        "first that does not succeed stops the rest and gives the exit code. With --sandbox "
        "they share one sandbox: an environment job on the sandbox target deploys onto the "
        "cluster an earlier infrastructure job of the run created.",
    )
    parser.add_argument(
        "spec",
        nargs="+",
        help="the job spec file (JSON), or - for standard input; several run in order",
    )
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
    parser.add_argument(
        "--no-color",
        action="store_true",
        help="no colour in the live view and the recap (as does the NO_COLOR variable)",
    )
    add_output_option(parser)
    add_sandbox_options(parser)
    add_engine_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the jobs in order; the exit code says how the last one run ended."""
    from qengine._cli.engine_opts import engine_from
    from qengine._cli.next_steps import next_steps
    from qengine._session import SandboxSession
    from qengine.interfaces.cancel import CancelToken
    from qengine.interfaces.events import EventSink
    from qengine.runner import ConsoleSink, JobResult, JsonLinesSink
    from qengine.runner.signals import cancel_on_signals
    from qengine.secrets.hygiene import disable_core_dumps

    disable_core_dumps()
    specs: list[str] = args.spec
    if specs.count("-") > 1:
        raise InvalidInputError("standard input (-) can be read for one spec only")
    jobs = [(spec, read_spec_document(spec), sandbox_secrets(args, spec)) for spec in specs]
    for _, document, _ in jobs:
        refuse_sealed_sandbox(document, args)

    def sinks(spec: str, document: dict[str, object]) -> list[EventSink]:
        # The runner closes a job's sinks when it ends: each job gets its own (the events
        # file is opened for appending, so every job's events end up in it).
        console = ConsoleSink(  # a recap per job
            sys.stderr,
            color=False if args.no_color else None,
            next_steps=next_steps(args, spec, document),
        )
        fresh: list[EventSink] = [console]
        if args.events is not None:
            fresh.append(JsonLinesSink(args.events))
        return fresh

    token = CancelToken()
    results: list[JobResult] = []
    # The handlers go first and come off last: a signal while the sandbox or the engine is
    # being set up or torn down cancels the token instead of killing the process.
    with (
        cancel_on_signals(token),
        engine_from(args) as engine,
        SandboxSession() as session,
    ):
        if len(jobs) > 1:  # every spec is checked before the first one runs
            for spec, document, _ in jobs:
                _check(engine, spec, document)
        if args.sandbox:  # plain-text demo secrets never reach a real cluster
            for spec, document, _ in jobs:
                refuse_real_targets(args, engine.plugins.loader.load(document), spec)
        for spec, document, secrets in jobs:
            if len(jobs) > 1:
                print(f"== {spec}", file=sys.stderr, flush=True)
            if args.sandbox and args.sandbox_journal == "kept":
                _note_kept_journal(engine, document, args.state_url or args.state_dir)
            result = engine.run(
                document,
                sinks=sinks(spec, document),
                cancel=token,
                wait_lock=args.wait_lock,
                sandbox_secrets=secrets,
                sandbox=session if args.sandbox else False,
            )
            results.append(result)
            if result.exit_code != 0:
                break
        # Still under the handlers: a signal while the result is printed cancels nothing
        # (the jobs have ended) and does not kill the process either.
        if args.output == "json":  # "ok" as in every command's document, errors included
            documents = [{"ok": r.exit_code == 0, **r.to_json()} for r in results]
            print_json(documents[0] if len(specs) == 1 else documents)
    return results[-1].exit_code


def _check(engine: Engine, spec: str, document: dict[str, object]) -> None:
    """Validate one of several specs before anything runs; an error names the spec."""
    try:
        engine.plugins.loader.load(document)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{spec}: {exc}", hint=exc.hint) from None


def _note_kept_journal(engine: Engine, document: dict[str, object], state: object) -> None:
    """Say why a sandbox run with a journal of its own (``--state-dir``) may do nothing."""
    job_id = document.get("id")
    if not isinstance(job_id, str) or not engine.store.step_records(job_id):
        return
    print(
        f"note: the journal of {state} has job {job_id!r} from an earlier run: the steps it "
        "finished are skipped, though this sandbox cluster is new. To deploy it again, run "
        "without --state-dir (a sandbox run then keeps its journal for that run only) or "
        "with a new one.",
        file=sys.stderr,
        flush=True,
    )
