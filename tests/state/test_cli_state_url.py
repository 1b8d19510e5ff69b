"""``qengine run`` and ``qengine status`` on the shared PostgreSQL store (``--state-url``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from e2e.support import child_env, qengine_argv, recorded, write_job

from qengine.testing.postgres import LocalPostgres

ROOT = Path(__file__).resolve().parents[2]


def _qengine(
    tmp: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        qengine_argv(*args),
        env={**child_env(tmp), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_job_runs_and_resumes_on_the_store_named_by_state_url(
    tmp_path: Path, postgres: LocalPostgres, pg_url: str
) -> None:
    spec = write_job(tmp_path, "a; b <- a; c <- b")
    state = ["--state-dir", str(tmp_path / "state"), "--state-password-file"]
    state += [str(postgres.password_file)]
    first = _qengine(tmp_path, "run", str(spec), *state, "--state-url", pg_url, "-o", "json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["status"] == "succeeded"
    # Named by the environment this time; the journal in PostgreSQL makes the re-run a no-op.
    again = _qengine(
        tmp_path, "run", str(spec), *state, "-o", "json", env={"QENGINE_STATE_URL": pg_url}
    )
    assert again.returncode == 0, again.stderr
    assert {s["status"] for s in json.loads(again.stdout)["steps"]} == {"skipped"}
    assert [step for action, step in recorded(tmp_path) if action == "run"] == ["a", "b", "c"]
    assert not (tmp_path / "state" / "qengine.sqlite3").exists()
    status = _qengine(tmp_path, "status", "job-1", *state, "--state-url", pg_url, "-o", "json")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["status"] == "succeeded"
    assert [s["step_id"] for s in shown["steps"]] == ["a", "b", "c"]


def test_a_state_url_with_a_password_is_refused_with_exit_2(tmp_path: Path) -> None:
    spec = write_job(tmp_path, "a")
    url = "postgresql://qengine:Sekrit-Pw-77@127.0.0.1:1/qengine"
    done = _qengine(
        tmp_path, "run", str(spec), "--state-dir", str(tmp_path / "s"), "--state-url", url
    )
    assert done.returncode == 2
    assert "must not carry a password" in done.stderr
    assert "Sekrit-Pw-77" not in done.stdout + done.stderr
    assert recorded(tmp_path) == []


def test_validate_imports_neither_psycopg_nor_celery(tmp_path: Path) -> None:
    script = (
        "import sys, json\n"
        "from qengine._cli.main import main\n"
        f"code = main(['validate', {str(ROOT / 'examples' / 'quickstart' / 'job.json')!r}])\n"
        "print(json.dumps([code, sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('psycopg', 'celery', 'kombu', 'redis'))]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**child_env(tmp_path), "QENGINE_STATE_URL": "postgresql://u@127.0.0.1:1/x"},
    )
    assert json.loads(done.stdout.splitlines()[-1]) == [0, []]
