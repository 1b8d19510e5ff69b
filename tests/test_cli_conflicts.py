"""Options that contradict each other are refused with exit 2 and a hint, never ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import QUICKSTART, qengine


def _loopback_kubeconfig(tmp: Path) -> Path:
    """A kubeconfig of a local simulator: the sandbox guard alone would let it through."""
    path = tmp / "kubeconfig"
    clusters = [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}]
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": clusters}))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("command", ["run", "plan"])
def test_sandbox_with_a_kubeconfig_is_refused(tmp_path: Path, command: str) -> None:
    kubeconfig = str(_loopback_kubeconfig(tmp_path))
    done = qengine(tmp_path, command, str(QUICKSTART), "--sandbox", "--kubeconfig", kubeconfig)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: --sandbox and --kubeconfig cannot be used together" in done.stderr
    assert "hint: Drop --sandbox" in done.stderr
    assert "Traceback" not in done.stderr
    assert "job.started" not in done.stderr


CONFLICTS = {
    "sandbox-context": (
        ["run", str(QUICKSTART), "--sandbox", "--context", "kind-a"],
        "--sandbox and --context cannot be used together",
    ),
    "clock-skew-without-trust-key": (
        ["run", str(QUICKSTART), "--sandbox", "--clock-skew", "10"],
        "--clock-skew applies only to signed jobs checked with --trust-key",
    ),
    "password-file-without-database": (
        ["plan", str(QUICKSTART), "--offline", "--state-password-file", "pw"],
        "--state-password-file is the password of a --state-url database",
    ),
    "generate-key-with-key": (
        ["sign", "--generate-key", "keys", "--key", "k.pem"],
        "--generate-key writes a new key pair and takes no --key",
    ),
}


@pytest.mark.parametrize("case", CONFLICTS.values(), ids=CONFLICTS.keys())
def test_conflicting_options_are_refused(tmp_path: Path, case: tuple[list[str], str]) -> None:
    argv, message = case
    done = qengine(tmp_path, *argv)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"error: {message}" in done.stderr
    assert "hint: " in done.stderr
    assert not (tmp_path / "keys").exists()


def test_a_conflict_is_a_json_error_with_output_json(tmp_path: Path) -> None:
    done = qengine(tmp_path, "run", str(QUICKSTART), "--sandbox", "--context", "x", "-o", "json")
    assert done.returncode == 2
    error = json.loads(done.stdout)["error"]
    assert (error["code"], error["kind"]) == (2, "invalid_input")
    assert "--context" in error["message"]
