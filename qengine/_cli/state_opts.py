"""``--state-url`` and friends: which state store a command uses.

The default is the SQLite file in the state directory. ``--state-url postgresql://...`` (or
``QENGINE_STATE_URL``) selects the shared PostgreSQL store; the URL may not carry a password,
which comes from ``--state-password-file`` or libpq's own ``PGPASSFILE`` / ``~/.pgpass``.
psycopg is imported only when such a store is opened.
"""

from __future__ import annotations

import argparse
import os
import pathlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qengine.interfaces.state import StateStore

ENV_URL = "QENGINE_STATE_URL"


def add_state_options(parser: argparse.ArgumentParser) -> None:
    """``--state-url``, ``--state-password-file`` and ``--state-lease``."""
    group = parser.add_argument_group("shared state store (several engines, several machines)")
    group.add_argument(
        "--state-url",
        metavar="URL",
        help=f"postgresql://USER@HOST/DB?sslmode=... without a password (default: ${ENV_URL}, "
        "else the SQLite file in the state directory)",
    )
    group.add_argument(
        "--state-password-file",
        type=pathlib.Path,
        metavar="FILE",
        help="the database password, first line of FILE (default: libpq's PGPASSFILE or ~/.pgpass)",
    )
    group.add_argument(
        "--state-lease",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long a target lock outlives a worker that stopped renewing it (default: 30)",
    )


def state_url(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The PostgreSQL URL the options or the environment name, or None for SQLite."""
    given: str | None = getattr(args, "state_url", None) or environ.get(ENV_URL) or None
    return given


def open_store(args: argparse.Namespace, directory: pathlib.Path) -> StateStore:
    """The store the options select; the SQLite store in ``directory`` by default."""
    url = state_url(args, os.environ)
    if url is None:
        from qengine.runner import SqliteStateStore

        return SqliteStateStore(directory)
    from qengine.runner.pgstore import PostgresStateStore, check_state_url

    return PostgresStateStore(
        check_state_url(url),
        password_file=getattr(args, "state_password_file", None),
        lease_seconds=getattr(args, "state_lease", 30.0),
    )
