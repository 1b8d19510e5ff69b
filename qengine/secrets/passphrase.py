"""Reading a key passphrase: from a file descriptor, or from an interactive prompt."""

from __future__ import annotations

import getpass
import os

from qengine._errors import InvalidInputError


def read_passphrase_fd(fd: int) -> bytes:
    """Read a passphrase from ``fd`` until EOF; one trailing newline is dropped.

    Takes ownership of ``fd`` and closes it. An empty passphrase is refused.
    """
    chunks: list[bytes] = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    except OSError as exc:
        raise InvalidInputError(f"cannot read a passphrase from file descriptor {fd}") from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    data = data[:-1] if data.endswith(b"\n") else data
    return _non_empty(data.removesuffix(b"\r"))


def prompt_passphrase(*, confirm: bool = False) -> bytes:
    """Ask for a passphrase on the terminal (no echo); ask twice when ``confirm``."""
    first = getpass.getpass("Key passphrase: ").encode()
    if confirm and getpass.getpass("Repeat the passphrase: ").encode() != first:
        raise InvalidInputError("the passphrases do not match")
    return _non_empty(first)


def _non_empty(passphrase: bytes) -> bytes:
    if not passphrase:
        raise InvalidInputError("the passphrase is empty")
    return passphrase
