"""``qengine validate SPEC``: check a job spec without touching anything."""

from __future__ import annotations

import argparse
import sys

from qengine._cli.common import (
    add_output_option,
    plugin_set,
    print_json,
    read_spec_document,
    refuse_sealed_sandbox,
)
from qengine.spec import EnvironmentJob


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``validate``."""
    parser = subparsers.add_parser(
        "validate",
        help="check a job spec (exit 2 and every problem if invalid)",
        description="Check a job spec against the schema, the installed plugins' sections and "
        "their policies. Reports every problem at once, each as $.path: message. Makes no "
        "request to any API.",
    )
    parser.add_argument("spec", help="the job spec file (JSON), or - for standard input")
    add_output_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate; 0 if valid, 2 if not (with ``--output json``, the error document of
    :mod:`qengine._cli.errors`, each problem in its ``issues``)."""
    document = read_spec_document(args.spec)
    refuse_sealed_sandbox(document, args)
    job = plugin_set(args).loader.load(document)  # invalid: the command's error document
    services = len(job.environment.services) if isinstance(job, EnvironmentJob) else 0
    if args.output == "json":
        print_json(
            {"ok": True, "valid": True, "kind": job.kind, "id": job.id, "action": job.action.value}
        )
    else:
        what = f", {services} service{'s' if services != 1 else ''}" if services else ""
        print(f"ok: {args.spec} is a valid {job.kind} ({job.action.value}{what})", file=sys.stdout)
    return 0
