"""``qengine plugins``: list the plugins, where they come from and what they provide."""

from __future__ import annotations

import argparse

from qengine._cli.common import add_output_option, plugin_set, print_json
from qengine._plugins import describe


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``plugins``."""
    parser = subparsers.add_parser(
        "plugins",
        help="list plugins and what they provide",
        description="List each plugin found through the 'qengine' entry-point group: its "
        "distribution and version, what it provides, and why it failed to load if it did.",
    )
    add_output_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """List the plugins."""
    plugins = plugin_set(args, warn=False)  # the listing shows why a plugin is disabled
    if args.output == "json":
        print_json(describe(plugins))
        return 0
    if not plugins.plugins:
        print("no plugins installed")
    for info in plugins.plugins:
        origin = f"{info.distribution} {info.version}".strip() or "(registered by the host)"
        state = "" if info.loaded else f"  DISABLED: {info.error}"
        print(f"{info.name}  [{origin}]{state}")
        for item in info.provides:
            print(f"    {item}")
    return 0
