"""The default state directory is platformdirs' user state directory: on Linux still
``$XDG_STATE_HOME/qengine``, else ``~/.local/state/qengine``; QENGINE_STATE_DIR wins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import child_env, qengine

SCRIPT = (
    "import json, os, platformdirs\n"
    "from qengine._paths import resolve_state_dir\n"
    "print(json.dumps([str(resolve_state_dir(None, os.environ)), "
    "platformdirs.user_state_dir('qengine', appauthor=False)]))"
)


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux paths")
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "home/.local/state/qengine"),
        ({"XDG_STATE_HOME": "XDG"}, "XDG/qengine"),
        ({"QENGINE_STATE_DIR": "mine"}, "mine"),
    ],
    ids=["home", "xdg", "variable"],
)
def test_the_default_on_linux(tmp_path: Path, extra: dict[str, str], expected: str) -> None:
    env = child_env(tmp_path, **{k: str(tmp_path / v) for k, v in extra.items()})
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    ours, platforms = json.loads(done.stdout)
    assert ours == str(tmp_path / expected)
    if "QENGINE_STATE_DIR" not in extra:
        assert ours == platforms


def test_a_run_journals_into_the_default(tmp_path: Path) -> None:
    document = {
        "apiVersion": "qengine.dev/v1", "kind": "EnvironmentJob", "id": "j",
        "organization": {"id": "o"}, "actor": {"id": "a"}, "action": "deploy",
        "target": {"kind": "test", "steps": "a"}, "environment": {"id": "e", "name": "e"},
    }  # fmt: skip
    (tmp_path / "job.json").write_text(json.dumps(document))
    assert qengine(tmp_path, "-p", "qengine.testing.plugin", "run", "job.json").returncode == 0
    assert (tmp_path / "home" / ".local" / "state" / "qengine" / "qengine.sqlite3").is_file()
