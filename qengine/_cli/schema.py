"""``qengine schema``: print the JSON Schema of job specs."""

from __future__ import annotations

import argparse

from qengine._cli.common import plugin_set, print_json
from qengine._events import event_json_schema
from qengine.spec._schema import job_schema


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``schema``."""
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of job specs (draft 2020-12)",
        description="Print the JSON Schema (draft 2020-12) of job specs, including the "
        "sections of the installed plugins.",
    )
    parser.add_argument(
        "--events", action="store_true", help="print the JSON Schema of event lines instead"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the schema."""
    if args.events:
        print_json(event_json_schema())
    else:
        print_json(job_schema(plugin_set(args).registry.section_kinds()))
    return 0
