"""The interactive passphrase prompt, driven through a real pseudo-terminal."""

from __future__ import annotations

import os
import pathlib
import pty
import select
import subprocess
import sys
import time

from qengine.secrets.hygiene import child_env
from qengine.secrets.local_keys import LocalKeyProvider, key_info

ROOT = pathlib.Path(__file__).parents[2]
CREATE = (
    "import argparse, sys; from qengine._cli import keys; "
    "p = argparse.ArgumentParser(); keys.add_parser(p.add_subparsers()); "
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"
)


def _read_until(fd: int, marker: bytes, seen: bytearray, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} in {bytes(seen)!r}"
        if select.select([fd], [], [], remaining)[0]:
            try:
                seen += os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break


def test_create_prompts_twice_without_echo(tmp_path: pathlib.Path) -> None:
    master, slave = pty.openpty()
    keys = tmp_path / "keys"
    child = subprocess.Popen(
        [sys.executable, "-c", CREATE, "keys", "create", "--keys-dir", str(keys), "--passphrase"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env(extra={"PYTHONPATH": str(ROOT)}),
        start_new_session=True,
    )
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, b"Key passphrase: ", seen)
        os.write(master, b"typed secret words\n")
        _read_until(master, b"Repeat the passphrase: ", seen)
        os.write(master, b"typed secret words\n")
        assert child.wait(timeout=30) == 0
        _read_until(master, b"versions 1", seen)
    finally:
        child.kill()
        child.wait()
        os.close(master)
    assert b"typed secret words" not in seen
    assert key_info(keys).mode == "passphrase"
    provider = LocalKeyProvider(keys, passphrase=lambda: b"typed secret words")
    data_key = bytes(32)
    assert (
        provider.unwrap(provider.wrap(data_key, organization_id="o"), organization_id="o")
        == data_key
    )
