"""``qengine run`` on a real terminal: a tmux pane of 60 columns and a pseudo-terminal.

The screenshot test reads the pane as a user sees it: while a step hangs and no event
arrives, the step's timer moves between two captures; after the job the screen and its
scrollback hold every line once and nothing of the live block. Captures are compared, never
durations: the deadlines below only bound how long the test waits for the pane.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

LONG = "a-step-whose-long-name-takes-many-columns"
SAY = "waiting for the load balancer to get an address"
# The running step's line: spinner, name (cut to the width), elapsed whole seconds.
TIMER = re.compile(r"^\s+\S (a-step-\S+)\s+(\d+(?:m\d\ds)?s?)\b", re.MULTILINE)
HEADER = re.compile(r"job live-1  \d+/\d+ steps")
COLOUR = re.compile(r"\x1b\[(?:[\d;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[\d;]*)?m")


def _job(tmp_path: Path, steps: str) -> Path:
    spec = tmp_path / "job.json"
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "live-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": steps},
        "environment": {"id": "env-1", "name": "env-1"},
    }
    spec.write_text(json.dumps(document))
    return spec


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "QENGINE_DISABLE_PLUGIN_AUTOLOAD": "1",
        **extra,
    }


def _argv(tmp_path: Path, spec: Path, *more: str) -> list[str]:
    argv = [sys.executable, "-m", "qengine", "-p", "qengine.testing.plugin", "run", str(spec)]
    return [*argv, "--state-dir", str(tmp_path / "state"), *more]


def _until(what: str, condition: Callable[[], str | None], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while (found := condition()) is None:
        assert time.monotonic() < deadline, f"the pane never showed {what}"
        time.sleep(0.1)
    return found


class Pane:
    """A detached tmux session of 60x20 on a private server socket."""

    def __init__(self, tmp_path: Path, command: list[str], env: dict[str, str]) -> None:
        self.socket = tmp_path / "tmux.sock"
        shell = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        line = f"env -i {shell} {' '.join(map(_quote, command))}; echo EXIT=$?; sleep 600"
        self._tmux("new-session", "-d", "-x", "60", "-y", "20", line)

    def _tmux(self, *args: str) -> str:
        argv = ["tmux", "-S", str(self.socket), "-f", "/dev/null", *args]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p")

    def everything(self) -> str:
        """The scrollback and the screen, a line wrapped by the terminal joined again."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", *keys)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_the_timer_moves_without_events_and_no_stale_line_remains(tmp_path: Path) -> None:
    spec = _job(tmp_path, f"prepare; {LONG}:hang:say={SAY} <- prepare")
    events = tmp_path / "events.jsonl"
    pane = Pane(tmp_path, _argv(tmp_path, spec, "--events", str(events)), _env(tmp_path))
    try:

        def timer() -> str | None:
            match = TIMER.search(pane.screen())
            return match.group(0) if match else None

        def said() -> str | None:  # the hanging step's last event
            text = events.read_text() if events.exists() else ""
            return text if f'"message":"{SAY}"' in text else None

        _until("the progress event", said)
        first = _until("the running step", timer)
        seen = events.read_text().count("\n")
        second = _until("the timer move", lambda: t if (t := timer()) != first else None)
        assert events.read_text().count("\n") == seen  # no event arrived in between
        assert LONG[:30] in first
        assert first != second
        screen = pane.screen()
        running = next(line for line in screen.splitlines() if LONG[:30] in line and "…" in line)
        assert len(running) <= 60  # cut with an ellipsis, not wrapped
        pane.keys("C-c")
        final = _until("the exit code", lambda: s if "EXIT=" in (s := pane.everything()) else None)
    finally:
        pane.close()
    assert "EXIT=3" in final
    _assert_each_line_once(final, events)
    assert "Job live-1 cancelled in" in final


def test_a_success_leaves_each_line_once_and_the_next_steps_at_60_columns(
    tmp_path: Path,
) -> None:
    spec = _job(tmp_path, f"prepare; {LONG}:sleep=1:say={SAY} <- prepare; b <- prepare")
    events = tmp_path / "events.jsonl"
    pane = Pane(tmp_path, _argv(tmp_path, spec, "--events", str(events)), _env(tmp_path))
    try:
        final = _until("the exit code", lambda: s if "EXIT=" in (s := pane.everything()) else None)
    finally:
        pane.close()
    assert "EXIT=0" in final
    lines = _assert_each_line_once(final, events)
    assert "Next:" in lines
    assert lines[lines.index("Next:") + 1].startswith("  qengine status live-1 --state-dir")


def _assert_each_line_once(final: str, events: Path) -> list[str]:
    """Nothing of the live block is left, no line is there twice, and each event but the
    progress ones (shown in the block only) is one line, in order; the lines."""
    lines = [line.rstrip() for line in final.splitlines() if line.strip()]
    assert not [line for line in lines if HEADER.search(line) or TIMER.match(line)], final
    assert len(lines) == len(set(lines)), final
    shown = [line[11:27].strip() for line in lines if re.match(r"\[\d\d:\d\d:\d\d\] ", line)]
    kinds = [json.loads(line)["type"] for line in events.read_text().splitlines()]
    assert shown == [kind for kind in kinds if kind != "step.progress"], final
    return lines


def _in_pty(argv: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Run ``argv`` with a 60x20 pseudo-terminal as its terminal; its exit code and output."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 20, 60, 0, 0))
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError as exc:  # EIO: every end of the terminal is closed
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return process.wait(timeout=60), b"".join(chunks)


@pytest.mark.parametrize(
    ("option", "environ", "coloured"),
    [((), {}, True), (("--no-color",), {}, False), ((), {"NO_COLOR": "1"}, False)],
    ids=["colour", "no-color-flag", "NO_COLOR"],
)
def test_colour_follows_no_color_and_the_flag(
    tmp_path: Path, option: tuple[str, ...], environ: dict[str, str], coloured: bool
) -> None:
    spec = _job(tmp_path, "a; b:sleep=0.3 <- a")
    code, raw = _in_pty(_argv(tmp_path, spec, *option), _env(tmp_path, **environ))
    text = raw.decode()
    assert code == 0, text
    assert "\x1b[2K" in text  # a live view, drawn in place
    assert bool(COLOUR.search(text)) is coloured
    assert "Job live-1 succeeded" in text


def test_a_stream_that_is_not_a_terminal_gets_one_plain_line_per_event(tmp_path: Path) -> None:
    spec = _job(tmp_path, "a:say=half way; b <- a")
    events = tmp_path / "events.jsonl"
    argv = _argv(tmp_path, spec, "--events", str(events))
    done = subprocess.run(argv, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stderr
    shown = [line for line in done.stderr.splitlines() if re.match(r"\[\d\d:\d\d:\d\d\] ", line)]
    kinds = [json.loads(line)["type"] for line in events.read_text().splitlines()]
    assert [line[11:27].strip() for line in shown] == kinds
    assert "Next:\n  qengine status live-1 --state-dir" in done.stderr
