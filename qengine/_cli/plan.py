"""``qengine plan SPEC``: the steps a job would run and what each would change; no side effect."""

from __future__ import annotations

import argparse
from contextlib import ExitStack

from qengine._cli.common import (
    add_output_option,
    print_json,
    read_spec_document,
    refuse_sealed_sandbox,
)
from qengine._cli.sandbox_secrets import add_sandbox_options, sandbox_secrets


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``plan``."""
    from qengine._cli.engine_opts import add_engine_options

    parser = subparsers.add_parser(
        "plan",
        help="show the steps a job would run and the changes they would make",
        description="Check a job as `run` would, then print the DAG of its steps and what each "
        "would change, as the target answers (a Kubernetes server-side dry-run, Terraform's own "
        "plan): create, update (with the fields that change), delete, unchanged. Steps an "
        "earlier run of the job finished are shown as done. Runs no step and makes no mutating "
        "request; an environment plan opens no secret (an infrastructure plan opens the cloud "
        "credentials Terraform needs to plan). When the target cannot be asked, says so per step.",
    )
    parser.add_argument("spec", help="the job spec file (JSON), or - for standard input")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="do not ask the target: list the steps, their changes not known",
    )
    add_output_option(parser)
    add_sandbox_options(parser)
    add_engine_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the plan; 0 if the job can be planned."""
    from qengine._cli.engine_opts import engine_from

    document = read_spec_document(args.spec)
    refuse_sealed_sandbox(document, args)
    with engine_from(args) as engine, ExitStack() as stack:
        accepted = engine.accept(
            document,
            sandbox_secrets=sandbox_secrets(args),
            consume=False,
            sandbox=stack if args.sandbox else None,
        )
        report = engine.preview(
            accepted, engine.plan(accepted), offline="--offline" if args.offline else ""
        )
    if args.output == "json":
        print_json({"ok": True, **report.to_json()})
    else:
        print(report.render())
    return 0
