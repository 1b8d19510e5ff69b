"""``qengine explain PATH``: what a field of the job spec is, like ``kubectl explain``."""

from __future__ import annotations

import argparse
import json
import textwrap

from qengine._cli.common import add_output_option, plugin_set, print_json
from qengine.spec._explain import Entry, Explanation, explain

_WIDTH = 80


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``explain``."""
    parser = subparsers.add_parser(
        "explain",
        help="describe a field of the job spec: type, default, description, fields",
        description="Describe a path of the job spec, such as environment.services or "
        "cluster.addons: its type, default and description, then its fields (or, where a "
        "'kind' selects the class, its kinds). A kind may be named as a segment: "
        "environment.services.container.replicas, cluster.provider.aws.region. The sections "
        "of the installed plugins are included. No path: the job's own fields.",
    )
    parser.add_argument("path", nargs="?", default="", help="a dotted path, e.g. cluster.addons")
    add_output_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the explanation; an unknown path is invalid input (exit 2, with suggestions)."""
    found = explain(args.path, plugin_set(args).registry.section_kinds())
    if args.output == "json":
        print_json(found.to_json())
    else:
        print(render(found), end="")
    return 0


def render(found: Explanation) -> str:
    """The explanation as text."""
    lines = [f"FIELD:    {found.path}", f"TYPE:     {found.type}"]
    if found.has_default:
        lines.append(f"DEFAULT:  {json.dumps(found.default)}")
    lines.append(f"REQUIRED: {'yes' if found.required else 'no'}")
    lines += ["", "DESCRIPTION:", *_wrapped(found.description or "(none)", 4)]
    if found.children:
        lines += ["", f"{found.children_are.upper()}:"]
        for child in found.children:
            lines += [_heading(child), *_wrapped(child.description or "(none)", 8)]
    return "\n".join(lines) + "\n"


def _heading(child: Entry) -> str:
    parts = [f"    {child.name}  <{child.type}>"]
    if child.required:
        parts.append("  required")
    elif child.has_default:
        parts.append(f"  default {json.dumps(child.default)}")
    return "".join(parts)


def _wrapped(text: str, indent: int) -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=" " * indent, subsequent_indent=" " * indent)
