"""Every console command of docs/tutorial.md runs as written, in order, in a scratch directory
holding a copy of ``examples/`` (sandbox and 127.0.0.1 only), and prints what the tutorial
shows: each shown line (``...`` standing for anything, runs of blanks for any blanks) is among
its output lines, and it exits 2 where the tutorial shows an ``error:``, else 0. A block after
``<!-- not run: REASON -->`` is skipped, for that reason."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import attrs
import pytest
from cli_support import ROOT, child_env

pytest.importorskip("qengine_kubernetes")

TUTORIAL = ROOT / "docs" / "tutorial.md"
NOT_RUN = re.compile(r"<!-- not run: (?P<reason>\S.*\S) -->")


@attrs.frozen
class Command:
    line: str
    shown: tuple[str, ...]

    @property
    def background(self) -> bool:
        return self.line.endswith(" &")

    @property
    def expected_code(self) -> int:
        return 2 if any(line.startswith("error:") for line in self.shown) else 0


def commands(text: str) -> list[Command]:
    """The commands of the console blocks not marked as not run, with what each shows."""
    found: list[Command] = []
    lines = text.splitlines()
    inside, skip, previous = False, False, ""
    for line in lines:
        if not inside and line.strip() == "```console":
            inside, skip = True, bool(NOT_RUN.fullmatch(previous.strip()))
        elif inside and line.strip() == "```":
            inside = False
        elif inside and not skip:
            if line.startswith("$ "):
                found.append(Command(line[2:], ()))
            elif found:
                found[-1] = attrs.evolve(found[-1], shown=(*found[-1].shown, line))
        if line.strip():
            previous = line
    return found


def _pattern(shown: str) -> re.Pattern[str]:
    parts = [re.escape(" ".join(part.split())) for part in shown.split("...")]
    return re.compile(".*".join(parts))


def _normal(line: str) -> str:
    return " ".join(line.split())


def _check_shown(command: Command, output: str) -> None:
    actual = [_normal(line) for line in output.splitlines()]
    for shown in command.shown:
        if shown.strip() in ("", "..."):
            continue
        pattern = _pattern(shown)
        assert any(pattern.fullmatch(line) for line in actual), (
            f"`{command.line}` did not print {shown!r}; it printed:\n{output}"
        )


def _shim(tmp: Path) -> dict[str, str]:
    """The environment, with ``qengine`` this interpreter's ``-m qengine``."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "qengine"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m qengine "$@"\n')
    shim.chmod(0o755)
    env = child_env(tmp)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


def _start(
    command: Command, cwd: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[str], threading.Thread]:
    """Start a background command; wait for the lines it shows (its readiness)."""
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command.line[:-2]}"], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    seen: list[str] = []
    ready = threading.Event()
    wanted = [_pattern(line) for line in command.shown if line.strip() not in ("", "...")]

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(_normal(line))
            if all(any(p.fullmatch(s) for s in seen) for p in wanted):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(60), f"`{command.line}` printed {seen}"
    return process, reader


def test_the_tutorial_shows_commands() -> None:
    found = commands(TUTORIAL.read_text())
    assert len(found) >= 20
    skipped = NOT_RUN.findall(TUTORIAL.read_text())
    assert skipped == ["installs packages into the environment"]


def test_every_tutorial_command_runs_as_written(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("the tutorial's commands are shell commands")
    work = tmp_path / "checkout"
    shutil.copytree(ROOT / "examples", work / "examples")
    env = _shim(tmp_path)
    background: list[tuple[subprocess.Popen[str], threading.Thread]] = []
    try:
        for command in commands(TUTORIAL.read_text()):
            if command.background:
                background.append(_start(command, work, env))
                continue
            done = subprocess.run(
                ["bash", "-c", command.line], cwd=work, env=env, text=True, timeout=300,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
            assert done.returncode == command.expected_code, f"`{command.line}`:\n{done.stdout}"
            assert "Traceback" not in done.stdout
            _check_shown(command, done.stdout)
    finally:
        for process, reader in background:
            process.send_signal(signal.SIGINT)
            assert process.wait(30) == 0
            reader.join(30)
            assert process.stdout is not None
            process.stdout.close()
