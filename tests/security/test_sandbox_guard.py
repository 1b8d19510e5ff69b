"""``--sandbox`` never sends plain-text demo secrets to a real cluster: a sandbox run whose
job targets anything but the sandbox, or that names a cluster with ``--kubeconfig``,
``--context`` or ``KUBECONFIG``, is refused with exit 2 before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from e2e.support import child_env, qengine_argv, recorded, write_job

SECRETS = {"db_password": "demo-pass-4f3e2d1c"}


def _spec(tmp: Path, target: dict[str, Any]) -> Path:
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "sandboxed-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": target,
        "environment": {
            "id": "env-1",
            "name": "env-1",
            "services": [
                {
                    "kind": "container",
                    "name": "web",
                    "image": "registry.example.com/web",
                    "tag": "1",
                    "env": {"PASSWORD": {"secret": "db_password"}},
                }
            ],
        },
    }
    path = tmp / "job.json"
    path.write_text(json.dumps(document))
    (tmp / "secrets.json").write_text(json.dumps(SECRETS))
    return path


def _run(
    tmp: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*qengine_argv(*args)],
        env=env or child_env(tmp),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _kubeconfig(tmp: Path, server: str = "https://k8s.prod.example.com:6443") -> Path:
    path = tmp / "real-kubeconfig"
    clusters = [{"name": "c", "cluster": {"server": server}}]
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": clusters}))
    os.chmod(path, 0o600)
    return path


@pytest.mark.parametrize("kind", ["kubeconfig", "in-cluster"])
def test_a_real_target_is_refused(tmp_path: Path, kind: str) -> None:
    target: dict[str, Any] = {"kind": kind}
    if kind == "kubeconfig":
        target["path"] = str(_kubeconfig(tmp_path))
    spec = _spec(tmp_path, target)
    done = _run(tmp_path, "run", str(spec), "--sandbox", "--state-dir", str(tmp_path / "s"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "sandbox" in done.stderr
    assert SECRETS["db_password"] not in done.stdout + done.stderr


def test_kubeconfig_option_is_refused(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"kind": "sandbox"})
    argv = ["run", str(spec), "--sandbox", "--kubeconfig", str(_kubeconfig(tmp_path))]
    done = _run(tmp_path, *argv, "--state-dir", str(tmp_path / "s"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--kubeconfig" in done.stderr


def test_kubeconfig_variable_is_refused(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"kind": "sandbox"})
    env = child_env(tmp_path) | {"KUBECONFIG": str(_kubeconfig(tmp_path))}
    done = _run(
        tmp_path, "run", str(spec), "--sandbox", "--state-dir", str(tmp_path / "s"), env=env
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "KUBECONFIG" in done.stderr


def test_a_local_target_still_runs(tmp_path: Path) -> None:
    spec = write_job(tmp_path, "a")
    done = _run(tmp_path, "run", str(spec), "--sandbox", "--state-dir", str(tmp_path / "s"))
    assert done.returncode == 0, done.stderr
    assert recorded(tmp_path) == [("run", "a")]


def test_a_kubeconfig_of_a_local_simulator_is_not_refused(tmp_path: Path) -> None:
    """A loopback server is a local simulator: the guard lets the run go on (it then fails to
    connect, as nothing listens there)."""
    local = _kubeconfig(tmp_path, "https://127.0.0.1:1")
    spec = _spec(tmp_path, {"kind": "kubeconfig", "path": str(local)})
    done = _run(tmp_path, "run", str(spec), "--sandbox", "--state-dir", str(tmp_path / "s"))
    assert "never reaches a real cluster" not in done.stderr
