"""With ``-o json`` / ``--output json`` every error is one JSON document on standard output, of
one shape for every command: {"ok": false, "error": {"code", "kind", "message", "hint",
"issues": [{"path", "message"}]}}; the words still go to standard error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import QUICKSTART, qengine


def _test_job(tmp: Path, steps: str) -> Path:
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "try-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": steps},
        "environment": {"id": "env-1", "name": "env-1"},
    }
    path = tmp / "job.json"
    path.write_text(json.dumps(document))
    return path


def _error(done: Any, code: int, kind: str) -> dict[str, Any]:
    assert done.returncode == code, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(("error: ", "usage: "))
    document = json.loads(done.stdout)
    assert document["ok"] is False
    error: dict[str, Any] = document["error"]
    assert set(error) >= {"code", "kind", "message", "hint", "issues"}
    assert (error["code"], error["kind"]) == (code, kind)
    return error


@pytest.mark.parametrize("command", ["validate", "plan", "run", "export"])
@pytest.mark.parametrize("flag", [["-o", "json"], ["--output", "json"], ["--output=json"]])
def test_a_missing_file(tmp_path: Path, command: str, flag: list[str]) -> None:
    extra = ["--out-dir", "out"] if command == "export" else []
    done = qengine(tmp_path, command, "missing.json", *flag, *extra)
    error = _error(done, 2, "invalid_input")
    assert "missing.json" in error["message"]
    assert error["issues"] == []


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_malformed_json(tmp_path: Path, command: str) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    error = _error(qengine(tmp_path, command, "bad.json", "-o", "json"), 2, "invalid_input")
    assert "is not valid JSON" in error["message"]


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_an_invalid_spec_lists_its_issues(tmp_path: Path, command: str) -> None:
    document = json.loads(QUICKSTART.read_text())
    document["environment"]["services"][0]["replicas"] = "two"
    (tmp_path / "job.json").write_text(json.dumps(document))
    argv = [command, "job.json", "-o", "json"] + (["--sandbox"] if command != "validate" else [])
    error = _error(qengine(tmp_path, *argv), 2, "invalid_spec")
    assert [issue["path"] for issue in error["issues"]] == ["$.environment.services[db].replicas"]
    assert all(issue["message"] for issue in error["issues"])


def test_a_refused_job(tmp_path: Path) -> None:
    keys = qengine(tmp_path, "sign", "--generate-key", "keys")
    assert keys.returncode == 0, keys.stderr
    public = next((tmp_path / "keys").glob("*.pub*"))
    spec = _test_job(tmp_path, "a")
    done = qengine(
        tmp_path, "-p", "qengine.testing.plugin", "run", str(spec), "--trust-key", str(public),
        "-o", "json",
    )  # fmt: skip
    error = _error(done, 2, "job_refused")
    assert error["reason"] == "unsigned"


def test_a_usage_error(tmp_path: Path) -> None:
    error = _error(
        qengine(tmp_path, "run", "job.json", "--bogus", "-o", "json"), 2, "invalid_input"
    )
    assert error["message"] == "unrecognized arguments: --bogus"


def test_a_failed_job_is_its_result_document(tmp_path: Path) -> None:
    """A job that ran and failed is no error of the command: its result says how it ended."""
    spec = _test_job(tmp_path, "a; b:fail <- a")
    done = qengine(tmp_path, "-p", "qengine.testing.plugin", "run", str(spec), "-o", "json")
    assert done.returncode == 1, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert (result["ok"], result["status"], result["exit_code"]) == (False, "failed", 1)
    assert result["error"]


def test_validate_json_says_ok_when_valid(tmp_path: Path) -> None:
    done = qengine(tmp_path, "validate", str(QUICKSTART), "-o", "json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["ok"] is True


def test_every_command_document_of_a_success_says_ok(tmp_path: Path) -> None:
    """plan, run and status documents carry "ok" as errors and validate's do."""
    spec = _test_job(tmp_path, "a; b <- a")
    state = ["--state-dir", str(tmp_path / "state")]
    plugin = ["-p", "qengine.testing.plugin"]
    for argv in (
        [*plugin, "plan", str(spec), "-o", "json"],
        [*plugin, "run", str(spec), *state, "-o", "json"],
        ["status", json.loads(spec.read_text())["id"], *state, "-o", "json"],
    ):
        done = qengine(tmp_path, *argv)
        assert done.returncode == 0, (argv, done.stderr[-2000:])
        assert json.loads(done.stdout)["ok"] is True, argv
