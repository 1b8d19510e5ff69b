"""``qengine audit verify FILE [--hmac-key-file F] [--checkpoint F]``."""

from __future__ import annotations

import argparse
import pathlib
import sys


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``audit`` and ``audit verify``."""
    parser = subparsers.add_parser("audit", help="work with audit logs")
    actions = parser.add_subparsers(dest="audit_action", required=True)
    verify = actions.add_parser("verify", help="check an audit log's chain, MACs, checkpoint")
    verify.add_argument("file", type=pathlib.Path, metavar="FILE", help="the audit log")
    verify.add_argument(
        "--hmac-key-file", type=pathlib.Path, metavar="F", help="the log's HMAC key (0600)"
    )
    verify.add_argument(
        "--checkpoint", type=pathlib.Path, metavar="F", help="the last checkpoint written"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when the log verifies; 1, naming the first bad record on stderr, when not."""
    from qengine.audit.sink import load_hmac_key
    from qengine.audit.verify import verify_audit_log

    key = None
    if args.hmac_key_file is not None:
        key = load_hmac_key(args.hmac_key_file)
    result = verify_audit_log(args.file, key, args.checkpoint)
    print(result.describe(args.file), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1
