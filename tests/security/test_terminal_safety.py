"""Tool output cannot drive the terminal: escape sequences are shown, not sent; and ``qengine
seal``, which holds plain-text secrets, disables core dumps as ``run`` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from qengine._terminal import terminal_safe

PLUGINS = Path(__file__).parent / "plugins"


def _env(tmp: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(PLUGINS),
    }


def test_escape_sequences_from_a_tool_never_reach_the_terminal(tmp_path: Path) -> None:
    spec = tmp_path / "job.json"
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "noisy-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "noisy"},
        "environment": {"id": "env-1", "name": "env-1"},
    }
    spec.write_text(json.dumps(document))
    argv = [sys.executable, "-m", "qengine", "-p", "noisy", "run", str(spec)]
    argv += ["--state-dir", str(tmp_path / "state"), "--events", str(tmp_path / "events.jsonl")]
    done = subprocess.run(argv, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    for raw in ("\x1b", "\x07", "\x9b"):
        assert raw not in done.stderr + done.stdout
    assert "\\x1b]0;pwned\\x07" in done.stderr  # shown, so the user sees what was attempted
    assert "title" in done.stderr
    assert "\\u001b" in (tmp_path / "events.jsonl").read_text()  # JSON keeps it, escaped


def test_terminal_safe_keeps_text_and_shows_controls() -> None:
    assert terminal_safe("a\tb\nc é ✓") == "a\tb\nc é ✓"
    assert terminal_safe("\x1b[2J\x9b\x00") == "\\x1b[2J\\x9b\\x00"


def test_seal_disables_core_dumps(tmp_path: Path) -> None:
    state = tmp_path / "state"
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"pw": "s3cr3t-value"}))
    os.chmod(secrets, 0o600)
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"id": "j-1", "organization": {"id": "o-1"}, "x": {"secret": "pw"}}))
    probe = (
        "import resource, sys; from qengine.cli import main; "
        f"main(['keys', 'create', '--state-dir', {str(state)!r}]); "
        f"code = main(['seal', {str(job)!r}, '--secrets', {str(secrets)!r}, '--out', "
        f"{str(tmp_path / 'sealed.json')!r}, '--state-dir', {str(state)!r}]); "
        "print(code, resource.getrlimit(resource.RLIMIT_CORE))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "0 (0, 0)"
