"""Building an :class:`~qengine._engine.Engine` from command-line options."""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from qengine._cli._keyopts import add_key_options, key_directory, passphrase_source
from qengine._cli.common import plugin_set
from qengine._paths import state_dir

if TYPE_CHECKING:
    from qengine._engine import Engine


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """State directory, keys, trust and audit options."""
    add_key_options(parser)
    parser.add_argument(
        "--kubeconfig",
        type=pathlib.Path,
        metavar="FILE",
        help="deploy environment jobs to the cluster of this kubeconfig, whatever their target",
    )
    parser.add_argument("--context", metavar="NAME", help="with --kubeconfig: the context to use")
    parser.add_argument(
        "--clock-skew",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="with --trust-key: how far past not_after a job is still accepted (default: 300)",
    )
    parser.add_argument(
        "--trust-key",
        action="append",
        type=pathlib.Path,
        metavar="PEM",
        help="refuse jobs not signed by this public key (repeatable)",
    )
    parser.add_argument(
        "--audit-log",
        type=pathlib.Path,
        metavar="FILE",
        help="audit log (default: STATE_DIR/audit.jsonl)",
    )
    parser.add_argument(
        "--audit-hmac-key-file",
        type=pathlib.Path,
        metavar="FILE",
        help="key file making the audit chain unforgeable (HMAC)",
    )


@contextmanager
def engine_from(args: argparse.Namespace) -> Iterator[Engine]:
    """An engine for the options in ``args``; its store and audit log are closed after use."""
    from qengine._engine import Engine, Trust
    from qengine.audit.sink import JsonlAuditSink, default_audit_path, load_hmac_key
    from qengine.runner import SqliteStateStore
    from qengine.secrets.local_keys import LocalKeyProvider
    from qengine.secrets.signing_keys import load_trusted_keys

    directory = state_dir(args.state_dir, environ=os.environ)
    args.state_dir = directory
    store = SqliteStateStore(directory)
    hmac_key = load_hmac_key(args.audit_hmac_key_file) if args.audit_hmac_key_file else None
    audit = JsonlAuditSink(args.audit_log or default_audit_path(directory), hmac_key=hmac_key)
    trust = None
    if args.trust_key:
        skew = datetime.timedelta(seconds=args.clock_skew)
        trust = Trust(keys=load_trusted_keys(args.trust_key), clock_skew=skew)
    provider = LocalKeyProvider(
        key_directory(args), key_id=args.key_id, passphrase=passphrase_source(args)
    )
    try:
        yield Engine(
            plugin_set(args),
            store=store,
            key_provider=provider,
            trust=trust,
            audit=audit,
            settings=_plugin_settings(args),
        )
    finally:
        audit.close()
        store.close()


def _plugin_settings(args: argparse.Namespace) -> dict[str, object]:
    """Engine settings of plugins given on the command line (``--kubeconfig``)."""
    if args.kubeconfig is None:
        return {}
    return {
        "kubernetes": {"kubeconfig": str(args.kubeconfig.expanduser()), "context": args.context}
    }
