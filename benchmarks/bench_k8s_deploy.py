"""Benchmark of the Kubernetes environment engine on the simulator (readiness delay 0).

Figures printed (medians of ``--rounds`` rounds, each on a fresh simulator):

* deploy of an environment of ``--services`` container services through ``Engine.run``:
  total time, engine time per service, API requests per service (the engine also waits for
  every rollout and writes a history Secret per service); requests are counted as they
  arrive (``sim.arrivals()``), so the job's shared watch counts though it is still open;
* baseline, same run: ``kubectl apply --server-side -f`` of the same rendered manifests on a
  fresh simulator (no rollout wait), its time and requests, and the ratio engine / kubectl;
* a no-op redeploy (a new job id, same spec): mutating requests (must be 0) and total time.

Run: ``PYTHONPATH=.:plugins/kubernetes python3 benchmarks/bench_k8s_deploy.py [--rounds N]``
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

import yaml
from qengine_kubernetes.render import render_environment
from qengine_kubernetes.settings import KubeSettings

from qengine import Engine, load_plugins
from qengine.runner import JobStatus, MemoryStateStore
from qengine.spec import EnvironmentJob
from qengine.testing.kube import KubeSimulator


def document(services: int) -> dict[str, Any]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "bench-0",
        "organization": {"id": "org-bench"},
        "actor": {"id": "actor-bench"},
        "action": "deploy",
        "created_at": "2026-01-01T00:00:00Z",
        "not_after": "2099-01-01T00:00:00Z",
        "max_parallel": 8,
        "target": {"kind": "sandbox", "readiness_delay": 0},
        "environment": {
            "id": "env-bench",
            "name": "bench",
            "services": [
                {
                    "kind": "container",
                    "name": f"svc-{n:02d}",
                    "image": "registry.k8s.io/pause",
                    "tag": "3.9",
                    "ports": [{"port": 8080}],
                    "env": {"INDEX": str(n)},
                }
                for n in range(services)
            ],
        },
    }


def settings(sim: KubeSimulator) -> KubeSettings:
    ca = sim.ca_pem
    text = ca.decode() if isinstance(ca, bytes) else str(ca)
    return KubeSettings(endpoint=sim.url, ca_pem=text, token=sim.token)


def engine_round(doc: dict[str, Any], services: int) -> dict[str, float]:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    with KubeSimulator(readiness_delay=0) as sim:
        engine = Engine(plugins, store=MemoryStateStore(), settings={"kubernetes": settings(sim)})
        sim.clear_requests()
        start = time.perf_counter()
        result = engine.run({**doc, "id": "bench-deploy"}, sandbox_secrets={})
        deploy = time.perf_counter() - start
        assert result.status is JobStatus.SUCCEEDED, result.error
        requests = len(sim.arrivals())
        sim.clear_requests()
        start = time.perf_counter()
        again = engine.run({**doc, "id": "bench-noop"}, sandbox_secrets={})
        noop = time.perf_counter() - start
        assert again.status is JobStatus.SUCCEEDED, again.error
        # The job's Lease on the cluster is written by every job, whatever it changes.
        noop_mutating = sum(1 for r in sim.arrivals() if r.mutating and "/leases" not in r.path)
        noop_requests = len(sim.arrivals())
    return {
        "deploy_s": deploy,
        "per_service_ms": deploy / services * 1000,
        "requests_per_service": requests / services,
        "noop_s": noop,
        "noop_mutating": float(noop_mutating),
        "noop_requests_per_service": noop_requests / services,
    }


def manifests(doc: dict[str, Any]) -> str:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    job = plugins.loader.load(doc)
    assert isinstance(job, EnvironmentJob)
    rendered = render_environment(job.environment, open_secret=lambda name: name)
    return yaml.safe_dump_all(list(rendered.objects()))


def kubectl_round(text: str, services: int, home: Path) -> dict[str, float]:
    with KubeSimulator(readiness_delay=0) as sim, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "all.yaml"
        path.write_text(text)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
        argv = ["kubectl", "--kubeconfig", str(sim.kubeconfig_path), "apply", "--server-side"]
        argv += ["--field-manager", "bench", "-f", str(path)]
        sim.clear_requests()
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=300)
        elapsed = time.perf_counter() - start
        requests = len(sim.arrivals())
    return {"kubectl_s": elapsed, "kubectl_requests_per_service": requests / services}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--services", type=int, default=50)
    args = parser.parse_args()
    doc = document(args.services)
    text = manifests(doc)
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as home:
        kubectl_round(text, args.services, Path(home))  # warm kubectl's discovery cache
        for _ in range(args.rounds):
            for name, value in {
                **engine_round(doc, args.services),
                **kubectl_round(text, args.services, Path(home)),
            }.items():
                figures.setdefault(name, []).append(value)
    median = {name: statistics.median(values) for name, values in figures.items()}
    median["engine_over_kubectl"] = median["deploy_s"] / median["kubectl_s"]
    print(f"environment of {args.services} container services, {args.rounds} rounds (medians)")
    print(f"  engine deploy (apply + rollout wait + history): {median['deploy_s']:.2f} s")
    print(f"  engine time per service: {median['per_service_ms']:.1f} ms")
    print(f"  engine API requests per service: {median['requests_per_service']:.1f}")
    print(
        f"  kubectl apply --server-side (no wait): {median['kubectl_s']:.2f} s, "
        f"{median['kubectl_requests_per_service']:.1f} requests per service"
    )
    print(f"  ratio engine / kubectl: {median['engine_over_kubectl']:.2f}")
    print(
        f"  no-op redeploy: {median['noop_s']:.2f} s, "
        f"{median['noop_mutating']:.0f} mutating requests, "
        f"{median['noop_requests_per_service']:.1f} requests per service"
    )
    print(json.dumps({k: round(v, 3) for k, v in median.items()}))


if __name__ == "__main__":
    main()
