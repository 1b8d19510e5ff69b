"""Mistakes caught when the job is read, with exit 2: a sealed job on the sandbox target (at
validate and plan, not when it runs), and a secrets file ``seal`` will not read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import QUICKSTART, qengine


def _sealed_sandbox_job(tmp: Path) -> Path:
    created = qengine(tmp, "keys", "create")
    assert created.returncode == 0, created.stderr
    secrets = tmp / "secrets.json"
    secrets.write_text((QUICKSTART.parent / "secrets.json").read_text())
    secrets.chmod(0o600)
    sealed = qengine(
        tmp, "seal", str(QUICKSTART), "--secrets", str(secrets), "--out", "sealed.json"
    )
    assert sealed.returncode == 0, sealed.stderr
    assert json.loads((tmp / "sealed.json").read_text())["target"] == {"kind": "sandbox"}
    return tmp / "sealed.json"


@pytest.mark.parametrize(
    "argv",
    [["validate"], ["plan"], ["plan", "--offline"], ["run"]],
    ids=" ".join,
)
def test_a_sealed_job_on_the_sandbox_target_is_refused_when_read(
    tmp_path: Path, argv: list[str]
) -> None:
    sealed = _sealed_sandbox_job(tmp_path)
    done = qengine(tmp_path, *argv, str(sealed))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "$.target.kind: a job with sealed secrets ($.secrets) cannot run on the sandbox" in (
        done.stderr
    )
    assert "hint: Give the cluster with --kubeconfig FILE" in done.stderr
    assert "job.started" not in done.stderr
    history = qengine(tmp_path, "history", "-o", "json")
    assert json.loads(history.stdout) == []  # nothing was accepted, so nothing journalled


def test_a_kubeconfig_sends_a_sealed_sandbox_job_to_a_cluster(tmp_path: Path) -> None:
    """``--kubeconfig`` deploys an environment job to its cluster whatever its target (the
    tutorial's last step), so the sealed job is valid with it."""
    sealed = _sealed_sandbox_job(tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    clusters = [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}]
    kubeconfig.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": clusters}))
    done = qengine(tmp_path, "validate", str(sealed), "--kubeconfig", str(kubeconfig))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"ok: {sealed} is a valid EnvironmentJob")


def test_seal_refuses_a_group_readable_secrets_file_as_bad_input(tmp_path: Path) -> None:
    assert qengine(tmp_path, "keys", "create").returncode == 0
    secrets = tmp_path / "secrets.json"
    secrets.write_text((QUICKSTART.parent / "secrets.json").read_text())
    secrets.chmod(0o640)
    done = qengine(
        tmp_path, "seal", str(QUICKSTART), "--secrets", str(secrets), "--out", "out.json"
    )
    assert done.returncode == 2, done.stderr
    assert "is accessible by group or others (mode 0640)" in done.stderr
    assert "hint: Run `chmod 600" in done.stderr
    assert not (tmp_path / "out.json").exists()
