"""The ``qengine`` command line runs jobs of the directory target, in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from directory_jobs import job

# The console script pip installed beside this interpreter: the command a user types.
QENGINE = Path(sys.executable).with_name("qengine")


def _qengine(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "QENGINE_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run(
        [str(QENGINE), *argv], capture_output=True, text=True, env=environ, timeout=120
    )


def _spec(tmp_path: Path, document: dict[str, object]) -> str:
    spec = tmp_path / f"{document['id']}.json"
    spec.write_text(json.dumps(document))
    return str(spec)


def test_qengine_run_writes_the_files_and_a_second_job_changes_nothing(tmp_path: Path) -> None:
    services = [{"kind": "container", "name": "web", "image": "nginx", "tag": "1.27"}]
    target = tmp_path / "environments"
    first = _qengine(tmp_path, "run", _spec(tmp_path, job(target, services=services)))
    assert first.returncode == 0, first.stderr
    assert "create file" in first.stderr
    written = json.loads((target / "shop" / "web.json").read_text())
    assert written["service"] == services[0]
    again = job(target, services=services, job_id="job-2")
    second = _qengine(tmp_path, "run", _spec(tmp_path, again), "--output", "json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["changes"] == []


def test_qengine_run_refuses_a_target_outside_the_root_it_was_given(tmp_path: Path) -> None:
    spec = _spec(tmp_path, job(tmp_path / "elsewhere", services=[]))
    result = _qengine(tmp_path, "run", spec, "--directory-root", str(tmp_path / "allowed"))
    assert result.returncode == 2, result.stderr
    assert "is outside" in result.stderr
    assert not (tmp_path / "elsewhere").exists()
