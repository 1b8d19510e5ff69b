"""``qengine run`` of the quickstart from the command line, in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from k8s_support import QUICKSTART, ROOT, mutating

from qengine.testing.kube import KubeSimulator

PLUGIN_DIR = ROOT / "plugins" / "kubernetes"
SECRETS = QUICKSTART.with_name("secrets.json")


def _run(spec: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(PLUGIN_DIR)]),
        "QENGINE_PLUGINS": "kubernetes",
    }
    argv = [sys.executable, "-m", "qengine", "run", str(spec), "--sandbox"]
    argv += ["--state-dir", str(state), "--output", "json", *extra]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)


def test_k8s_quickstart_runs_end_to_end_in_the_sandbox(tmp_path: Path) -> None:
    done = _run(QUICKSTART, tmp_path / "state")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert {s["status"] for s in result["steps"]} == {"succeeded"}
    assert "demo-only" not in done.stdout + done.stderr


def test_k8s_a_second_run_of_the_same_spec_sends_no_mutating_request(tmp_path: Path) -> None:
    with KubeSimulator(readiness_delay=0.05) as sim:
        document = json.loads(QUICKSTART.read_text())
        document["target"] = {"kind": "kubeconfig", "path": str(sim.kubeconfig_path)}
        for number in (1, 2):
            document["id"] = f"quickstart-cli-{number}"
            spec = tmp_path / f"job-{number}.json"
            spec.write_text(json.dumps(document))
            if number == 2:
                sim.clear_requests()
            done = _run(spec, tmp_path / "state", "--secrets", str(SECRETS))
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["status"] == "succeeded"
        assert sim.requests(), "the second run must read the live objects"
        assert mutating(sim) == []


def _qengine(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(PLUGIN_DIR)]),
        "QENGINE_PLUGINS": "kubernetes",
    }
    return subprocess.run(
        [sys.executable, "-m", "qengine", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_k8s_sealed_quickstart_runs_on_a_cluster_given_by_kubeconfig(tmp_path: Path) -> None:
    """The real-cluster path of the quickstart: keys, seal, then run with --kubeconfig (a
    simulator stands for the cluster, as `qengine sandbox kube` would serve it)."""
    state = tmp_path / "state"
    secrets = tmp_path / "secrets.json"
    secrets.write_text(SECRETS.read_text())
    secrets.chmod(0o600)
    sealed = tmp_path / "sealed.json"
    assert _qengine(state, "keys", "create", "--state-dir", str(state)).returncode == 0
    done = _qengine(
        state,
        "seal",
        str(QUICKSTART),
        "--secrets",
        str(secrets),
        "--out",
        str(sealed),
        "--state-dir",
        str(state),
    )
    assert done.returncode == 0, done.stderr
    with KubeSimulator(readiness_delay=0.05) as sim:
        ran = _qengine(
            state,
            "run",
            str(sealed),
            "--kubeconfig",
            str(sim.kubeconfig_path),
            "--state-dir",
            str(state),
            "--output",
            "json",
        )
        assert ran.returncode == 0, ran.stderr
        assert json.loads(ran.stdout)["status"] == "succeeded"
        assert [d["metadata"]["name"] for d in sim.objects("deployments.apps")] == ["web", "worker"]
    unsealed = _qengine(
        state,
        "run",
        str(QUICKSTART),
        "--kubeconfig",
        str(tmp_path / "nope"),
        "--state-dir",
        str(state),
    )
    assert unsealed.returncode == 2  # plain references without --sandbox: refused, nothing run
