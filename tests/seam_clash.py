"""A plugin module whose option clashes with a core one (loaded with ``-p``)."""

import argparse

from qengine.plugin import hookimpl


@hookimpl
def qengine_add_options(parser: argparse.ArgumentParser) -> None:
    """Adds ``--state-dir``, which ``run`` already has."""
    parser.add_argument("--state-dir")
