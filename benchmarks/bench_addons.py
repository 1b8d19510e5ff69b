"""Benchmark of the cluster add-on stack on the Kubernetes simulator with the real helm.

Figures printed (no thresholds; ratios compare against a baseline measured in the same run):

* helm alone: ``helm upgrade --install --wait`` of each test chart in the freeze's order, one
  after the other, from the packaged archives (the baseline);
* the stack's first install through ``qengine_addons.addon_steps`` (CRDs by server-side
  apply, digests checked, releases in parallel where the DAG allows, the webhook gate);
* the stack's unchanged re-run: wall time, and the mutating requests the simulator received
  (expected: 0).

Each round uses a fresh simulator. The add-ons are those the EKS example turns on (cert-manager
and its issuers, Traefik, metrics-server, external-dns, Loki, Alloy, kube-prometheus-stack).

Run: ``PYTHONPATH=. python3 benchmarks/bench_addons.py [--rounds N]`` (helm: ``QENGINE_HELM``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from qengine_addons import AddonSettings, Freeze, addon_steps, cluster_client
from qengine_addons.testing import package_test_charts

from qengine import load_plugins
from qengine.runner import Executor, JobRef, JobStatus, Plan
from qengine.secrets.hygiene import child_env
from qengine.spec import InfrastructureJob
from qengine.testing.kube import KubeSimulator

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "aws-eks" / "job.json"
NS = "qengine-system"


def _job(job_id: str) -> InfrastructureJob:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws,kubernetes"})
    document: dict[str, Any] = json.loads(EXAMPLE.read_text())
    document["id"] = job_id
    # The baseline installs the same charts with helm alone: the example's cluster-autoscaler,
    # which the baseline has no counterpart for, is left out of the stack measured (its removal
    # step remains: one helm status, finding no release).
    document["cluster"]["addons"]["autoscaler"] = False
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _ca(sim: KubeSimulator) -> str:
    ca = sim.ca_pem
    return ca.decode() if isinstance(ca, bytes) else str(ca)


def _stack(sim: KubeSimulator, helm: str, freeze: Freeze, archives: Path, job_id: str) -> float:
    job = _job(job_id)
    settings = AddonSettings(
        helm=helm, freeze=freeze, chart_dir=str(archives), timeout=60, poll_interval=0.05
    )
    steps = addon_steps(job, lambda _ctx: cluster_client(sim.url, _ca(sim), sim.token), settings)
    started = time.perf_counter()
    result = Executor().run(Plan(steps), JobRef(job_id=job_id, target_id="cluster/bench"))
    elapsed = time.perf_counter() - started
    assert result.status is JobStatus.SUCCEEDED, result.error
    return elapsed


def _helm_alone(sim: KubeSimulator, helm: str, freeze: Freeze, archives: Path, home: Path) -> float:
    kubeconfig = home / "kubeconfig"
    sim.write_kubeconfig(kubeconfig)
    env = child_env(
        extra={
            "HOME": str(home),
            "HELM_CACHE_HOME": str(home / "c"),
            "HELM_CONFIG_HOME": str(home / "f"),
            "HELM_DATA_HOME": str(home / "d"),
        }
    )
    names = ("cert-manager", "traefik", "metrics-server", "external-dns", "loki", "alloy",
             "kube-prometheus-stack")  # fmt: skip
    started = time.perf_counter()
    for name in names:
        addon = freeze.get(name)
        archive = archives / f"{addon.chart}-{addon.version}.tgz"
        subprocess.run(
            [helm, "upgrade", "--install", name, str(archive), "--namespace", NS,
             "--create-namespace", "--wait", "--timeout", "60s", "--kubeconfig", str(kubeconfig),
             "--set", "crds.enabled=true"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    helm = os.environ.get("QENGINE_HELM") or "helm"
    baseline: list[float] = []
    first: list[float] = []
    rerun: list[float] = []
    writes: list[int] = []
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        freeze = package_test_charts(helm, base / "archives")
        for index in range(rounds):
            with KubeSimulator(readiness_delay=0.05) as sim:
                home = base / f"home-{index}"
                home.mkdir()
                baseline.append(_helm_alone(sim, helm, freeze, base / "archives", home))
            with KubeSimulator(readiness_delay=0.05) as sim:
                first.append(_stack(sim, helm, freeze, base / "archives", f"bench-{index}-a"))
                sim.clear_requests()
                rerun.append(_stack(sim, helm, freeze, base / "archives", f"bench-{index}-b"))
                writes.append(sum(1 for r in sim.requests() if r.mutating))
    b, f, r = (statistics.median(x) for x in (baseline, first, rerun))
    print(f"rounds: {rounds}")
    print(f"helm alone, 7 charts in sequence (baseline): median {b:.2f}s")
    print(f"stack first install (9 steps):               median {f:.2f}s  ratio {f / b:.2f}")
    print(f"stack unchanged re-run:                      median {r:.2f}s  ratio {r / b:.2f}")
    print(f"mutating requests on the re-run: {writes}")


if __name__ == "__main__":
    main()
