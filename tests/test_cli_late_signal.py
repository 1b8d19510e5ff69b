"""A SIGTERM or SIGINT that reaches ``qengine`` after its jobs ended changes nothing: the
process exits with the jobs' code, not by the signal (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import os, signal, sys
from qengine._cli.main import ignore_late_signals
ignore_late_signals()
os.kill(os.getpid(), signal.SIG{name})
print("still here")
sys.exit(0)
"""


def test_a_late_signal_does_not_kill_the_process() -> None:
    for name in ("TERM", "INT"):
        done = subprocess.run(
            [sys.executable, "-c", CHILD.format(name=name)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
        )
        assert (done.returncode, done.stdout.strip()) == (0, "still here"), done.stderr


def test_the_console_script_ignores_signals_only_once_main_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wiring: ``entry`` calls ``main`` first, then ignores late signals, then exits
    with main's code (both replaced here by recorders: the real ones are tested above and by
    every command-line test)."""
    from qengine._cli import main as cli_main

    calls: list[str] = []

    def main(argv: object = None) -> int:
        calls.append("main")
        return 3

    monkeypatch.setattr(cli_main, "main", main)
    monkeypatch.setattr(cli_main, "ignore_late_signals", lambda: calls.append("ignore"))

    with pytest.raises(SystemExit) as exited:
        cli_main.entry()

    assert exited.value.code == 3
    assert calls == ["main", "ignore"]
