"""The console view: the live block drawn with rich, recorded; colour, width, plain lines."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from qengine._events import Event, EventType
from qengine.runner import ConsoleSink, Executor, JobRef
from qengine.testing.steps import StepFactory, build_plan

ROOT = Path(__file__).resolve().parents[2]
JOB = JobRef(job_id="job-con", organization_id="org-1", target_id="env/con")
LONG = "a-step-whose-name-alone-takes-most-of-sixty-columns"
# Colour SGR parameters (foreground, background, bright); bold (1) and dim (2) are not colour.
COLOUR = re.compile(r"\x1b\[(?:[\d;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[\d;]*)?m")


class TtyBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


def _recording(width: int = 60) -> Console:
    return Console(
        file=io.StringIO(), width=width, record=True, force_terminal=True, color_system="standard"
    )


def _event(kind: EventType, message: str, step: str | None = None, **data: object) -> Event:
    return Event(
        type=kind,
        time="2026-12-06T10:00:00Z",
        organization_id="org-1",
        job_id="job-con",
        target_id="env/con",
        message=message,
        step_id=step,
        data=data,  # type: ignore[arg-type]
    )


def test_the_live_block_is_cut_to_the_width_and_erased_at_the_end(factory: StepFactory) -> None:
    console = _recording(60)
    plan = build_plan(factory, f"{LONG}:sleep=0.3:say=waiting for the load balancer address")
    Executor().run(plan, JOB, sinks=[ConsoleSink(io.StringIO(), console=console)])
    text = console.export_text(styles=False)
    block = [line for line in text.splitlines() if re.match(r"^ *[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] ", line)]
    assert all(cell_len(line) <= 60 for line in block), block
    assert [line for line in block if LONG in line and line.endswith("…")], text
    assert re.search(r"job job-con  0/1 steps  \d+s", text)
    events = [line for line in text.splitlines() if line.startswith("[")]
    assert max(map(cell_len, events)) > 60  # event lines are wrapped by the terminal, not cut
    assert "Job job-con succeeded in" in text
    raw = console.file.getvalue()  # type: ignore[attr-defined]
    assert raw.count("\x1b[?25l") == raw.count("\x1b[?25h") == 1  # cursor hidden, then back


def test_a_tty_gets_colour_and_cursor_codes_and_no_color_takes_the_colour_away(
    factory: StepFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)

    def draw(color: bool | None) -> str:
        out = TtyBuffer()
        plan = build_plan(factory, "a; b:sleep=0.2 <- a")
        Executor().run(plan, JOB, sinks=[ConsoleSink(out, color=color)])
        return out.getvalue()

    coloured = draw(None)
    assert COLOUR.search(coloured)
    assert "\x1b[2K" in coloured  # the live block is erased in place
    assert not COLOUR.search(draw(False))
    monkeypatch.setenv("NO_COLOR", "1")
    plain = draw(None)
    assert not COLOUR.search(plain)
    assert "\x1b[2K" in plain  # still live, only without colour


def test_a_stream_that_is_not_a_terminal_gets_plain_lines(factory: StepFactory) -> None:
    out = io.StringIO()
    Executor().run(build_plan(factory, "a; b:say=half way <- a"), JOB, sinks=[ConsoleSink(out)])
    text = out.getvalue()
    assert "\x1b" not in text
    events = [line for line in text.splitlines() if line.startswith("[")]
    kinds = [line[11:27].strip() for line in events]
    assert kinds == [
        "job.started",
        "step.started",
        "resource.changed",
        "step.finished",
        "step.started",
        "step.progress",
        "resource.changed",
        "step.finished",
        "job.finished",
    ]


def test_escape_sequences_in_events_are_shown_not_sent_on_a_terminal() -> None:
    console = _recording(200)
    sink = ConsoleSink(io.StringIO(), console=console)
    sink.emit(_event(EventType.JOB_STARTED, "job job-con started", steps=1))
    sink.emit(_event(EventType.STEP_STARTED, "start \x1b]0;pwned\x07", "s\x9b1m"))
    sink.emit(_event(EventType.STEP_PROGRESS, "\x1b[2J cleared?", "s\x9b1m"))
    sink.emit(_event(EventType.LOG, "[bold]not markup[/bold] :smile:", "s\x9b1m"))
    sink.emit(_event(EventType.STEP_FAILED, "boom \x1b[6n", "s\x9b1m", hint="\x07 hint"))
    sink.emit(_event(EventType.JOB_FINISHED, "job job-con failed", status="failed"))
    raw = console.file.getvalue()  # type: ignore[attr-defined]
    for sent in ("\x1b]", "\x07", "\x9b", "\x1b[2J", "\x1b[6n"):
        assert sent not in raw
    text = console.export_text()
    assert "start \\x1b]0;pwned\\x07" in text
    assert "s\\x9b1m" in text
    assert "[bold]not markup[/bold] :smile:" in text  # neither rich markup nor emoji codes
    assert "Failed: s\\x9b1m: boom \\x1b[6n" in text


def test_next_steps_follow_a_success_only(factory: StepFactory) -> None:
    steps = ["qengine status job-con", "kubectl get all -A -l x=y"]
    good, bad = io.StringIO(), io.StringIO()
    Executor().run(build_plan(factory, "a"), JOB, sinks=[ConsoleSink(good, next_steps=steps)])
    job = JobRef(job_id="job-bad", organization_id="org-1", target_id="env/bad")
    Executor().run(build_plan(factory, "a:fail"), job, sinks=[ConsoleSink(bad, next_steps=steps)])
    assert good.getvalue().endswith(
        "Next:\n  qengine status job-con\n  kubectl get all -A -l x=y\n"
    )
    assert "Next:" not in bad.getvalue()
    assert "Failed: a: step a failed as told" in bad.getvalue()


def test_close_without_a_finish_stops_the_live_block() -> None:
    before = set(threading.enumerate())
    console = _recording()
    sink = ConsoleSink(io.StringIO(), console=console)
    sink.emit(_event(EventType.JOB_STARTED, "job job-con started", steps=1))
    sink.emit(_event(EventType.STEP_STARTED, "start", "s"))
    (refresh,) = set(threading.enumerate()) - before  # the thread that redraws the block
    sink.close()
    refresh.join(timeout=10)
    assert not refresh.is_alive()
    raw = console.file.getvalue()  # type: ignore[attr-defined]
    assert raw.endswith("\x1b[?25h\r" + "\x1b[1A\x1b[2K" * 3)  # cursor back, block erased


def test_validate_and_a_piped_console_do_not_import_rich() -> None:
    spec = ROOT / "examples" / "quickstart" / "job.json"
    script = (
        "import io, sys, json\n"
        "from qengine._cli.main import main\n"
        f"code = main(['validate', {str(spec)!r}])\n"
        "from qengine.runner import ConsoleSink\n"
        "ConsoleSink(io.StringIO())\n"
        "print(json.dumps([code, 'rich' in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == [0, False]


def test_a_dumb_terminal_gets_plain_lines(
    factory: StepFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "dumb")
    out = TtyBuffer()
    Executor().run(build_plan(factory, "a; b <- a"), JOB, sinks=[ConsoleSink(out)])
    assert "\x1b" not in out.getvalue()
    assert "Job job-con succeeded in" in out.getvalue()
