"""Options shared by commands that use the local key provider."""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Callable

from qengine._errors import InvalidInputError
from qengine._keyid import DEFAULT_KEY_ID


def add_key_options(parser: argparse.ArgumentParser) -> None:
    """``--state-dir``, ``--keys-dir``, ``--key-id``, ``--passphrase-fd``."""
    parser.add_argument("--state-dir", type=pathlib.Path, help="state directory")
    parser.add_argument(
        "--keys-dir", type=pathlib.Path, help="key directory (default: STATE_DIR/keys)"
    )
    parser.add_argument("--key-id", default=DEFAULT_KEY_ID, help="key id (default: %(default)s)")
    parser.add_argument(
        "--passphrase-fd",
        type=int,
        metavar="N",
        help="read the key passphrase from file descriptor N (never pass it on the command line)",
    )


def key_directory(args: argparse.Namespace) -> pathlib.Path:
    """The directory holding key files, per ``--keys-dir`` / ``--state-dir``."""
    from qengine.secrets.local_keys import keys_dir

    if args.keys_dir is not None:
        directory: pathlib.Path = args.keys_dir
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return directory
    return keys_dir(args.state_dir)


def passphrase_source(args: argparse.Namespace, *, confirm: bool = False) -> Callable[[], bytes]:
    """A callable giving the passphrase: from ``--passphrase-fd``, else a terminal prompt."""
    from qengine.secrets.passphrase import prompt_passphrase, read_passphrase_fd

    fd: int | None = args.passphrase_fd

    def source() -> bytes:
        if fd is not None:
            return read_passphrase_fd(fd)
        if not sys.stdin.isatty():
            raise InvalidInputError(
                "a passphrase is needed and there is no terminal to ask it on",
                hint="Pass --passphrase-fd N with the passphrase readable on descriptor N.",
            )
        return prompt_passphrase(confirm=confirm)

    return source
