"""``qengine keys create|list|rotate``: manage the local provider's master keys."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from qengine._cli._keyopts import add_key_options, key_directory, passphrase_source

if TYPE_CHECKING:
    from qengine.secrets.local_keys import KeyInfo


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``keys`` and its sub-commands."""
    parser = subparsers.add_parser("keys", help="manage local master keys")
    actions = parser.add_subparsers(dest="keys_action", required=True)
    create = actions.add_parser("create", help="create a key (version 1)")
    add_key_options(create)
    create.add_argument(
        "--passphrase",
        action="store_true",
        help="derive the key from a passphrase (prompted, or --passphrase-fd)",
    )
    add_key_options(actions.add_parser("list", help="list keys and their versions"))
    add_key_options(actions.add_parser("rotate", help="add a new version to a key"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Create, list or rotate keys; prints one line per key."""
    from qengine.secrets.local_keys import create_key, key_info, list_keys, rotate_key

    directory = key_directory(args)
    if args.keys_action == "create":
        use_passphrase = args.passphrase or args.passphrase_fd is not None
        passphrase = passphrase_source(args, confirm=True)() if use_passphrase else None
        _show(create_key(directory, args.key_id, passphrase=passphrase))
    elif args.keys_action == "rotate":
        info = key_info(directory, args.key_id)
        passphrase = passphrase_source(args)() if info.mode == "passphrase" else None
        _show(rotate_key(directory, args.key_id, passphrase=passphrase))
    else:
        for info in list_keys(directory):
            _show(info)
    return 0


def _show(info: KeyInfo) -> None:
    print(
        f"{info.key_id}\t{info.mode}\tversions {','.join(map(str, info.versions))}"
        f"\tnewest v{info.newest} created {info.created_at[-1]}"
    )
