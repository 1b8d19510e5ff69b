"""The next steps under the recap of a job ``qengine run`` carried out, and that they run."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from qengine._cli.next_steps import next_steps

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT = {"id": "env-shop", "name": "shop"}


def _args(**given: object) -> argparse.Namespace:
    options: dict[str, object] = {"state_dir": Path("/srv/qe state"), "sandbox": False}
    return argparse.Namespace(**(options | given))


def _job(target: dict[str, object], kind: str = "EnvironmentJob") -> dict[str, object]:
    return {"id": "shop-1", "kind": kind, "target": target, "environment": ENVIRONMENT}


@pytest.mark.parametrize(
    ("args", "target", "kubectl"),
    [
        (
            _args(),
            {"kind": "kubeconfig", "path": "/k/config", "context": "prod"},
            "kubectl --kubeconfig /k/config --context prod get all -A "
            "-l qengine.dev/environment-id=env-shop",
        ),
        (
            _args(kubernetes_kubeconfig=Path("/sim/kube config"), kubernetes_context=None),
            {"kind": "sandbox"},
            "kubectl --kubeconfig '/sim/kube config' get all -A "
            "-l qengine.dev/environment-id=env-shop",
        ),
        (
            _args(),
            {"kind": "in-cluster"},
            "kubectl get all -A -l qengine.dev/environment-id=env-shop",
        ),
    ],
    ids=["target-kubeconfig", "option-overrides-sandbox-target", "in-cluster"],
)
def test_a_kubernetes_environment_gets_the_kubectl_that_lists_its_objects(
    args: argparse.Namespace, target: dict[str, object], kubectl: str
) -> None:
    lines = next_steps(args, "jobs/shop.json", _job(target))
    assert lines[0] == "qengine status shop-1 --state-dir '/srv/qe state'   # what the journal kept"
    assert lines[1] == f"{kubectl}   # what runs on the cluster"
    assert lines[2].startswith("qengine export jobs/shop.json --out-dir DIR   # ")


def test_a_sandbox_run_says_its_cluster_is_gone_and_how_to_keep_one() -> None:
    lines = next_steps(_args(sandbox=True), "-", _job({"kind": "sandbox"}))
    assert "sandbox cluster ended with the run" in lines[1]
    assert "qengine sandbox kube --kubeconfig FILE" in lines[1]
    assert lines[2].startswith("qengine export SPEC --out-dir DIR")


def test_no_kubectl_off_kubernetes_and_no_status_for_a_shared_store() -> None:
    document = _job({"kind": "test", "steps": "a"})
    lines = next_steps(_args(state_url="postgresql://db/qe"), "job.json", document)
    assert len(lines) == 1
    assert lines[0].startswith("qengine export job.json --out-dir DIR")


def test_the_suggested_status_and_export_run_as_written(tmp_path: Path) -> None:
    spec = tmp_path / "job.json"
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "next-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": "a"},
        "environment": {"id": "env-1", "name": "env-1"},
    }
    spec.write_text(json.dumps(document))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "QENGINE_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    qengine = [sys.executable, "-m", "qengine", "-p", "qengine.testing.plugin"]
    argv = [*qengine, "run", str(spec), "--state-dir", str(tmp_path / "state")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=True)
    suggested = done.stderr[done.stderr.index("Next:\n") :].splitlines()[1:]
    assert len(suggested) == 2
    for line in suggested:
        command = line.split("   # ")[0].strip().replace("DIR", str(tmp_path / "out"))
        assert command.startswith("qengine ")
        words = [*qengine, *shlex.split(command)[1:]]
        ran = subprocess.run(words, env=env, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, (command, ran.stderr)
