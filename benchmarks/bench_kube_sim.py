"""Benchmark of the Kubernetes simulator: server-side apply throughput and memory.

Figures printed (no pass/fail thresholds; ratios compare against a baseline of the same run):

* applies per second of Deployments (server-side apply over HTTPS, keep-alive connections,
  controllers on), one client versus 20 concurrent clients, median of several rounds;
* errors with 50 concurrent clients (should be zero);
* memory held by 10,000 stored ConfigMaps (tracemalloc), and per object;
* start-up time to ready.

Run: ``PYTHONPATH=. python3 benchmarks/bench_kube_sim.py [--rounds N] [--applies N]``
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import ssl
import statistics
import threading
import time
import tracemalloc
from typing import Any

from qengine.testing.kube import KubeSimulator
from qengine.testing.kube.objects import WriteOptions


def deployment(name: str) -> bytes:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "main", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }
    return json.dumps(body).encode()


class Client:
    """One keep-alive HTTPS connection to the simulator."""

    def __init__(self, sim: KubeSimulator) -> None:
        tls = ssl.create_default_context(cadata=sim.ca_pem.decode())
        self.conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=tls, timeout=60)
        self.headers = {
            "Authorization": f"Bearer {sim.token}",
            "Content-Type": "application/apply-patch+yaml",
        }

    def apply(self, name: str) -> int:
        path = f"/apis/apps/v1/namespaces/default/deployments/{name}?fieldManager=bench&force=true"
        self.conn.request("PATCH", path, body=deployment(name), headers=self.headers)
        resp = self.conn.getresponse()
        resp.read()
        return resp.status

    def close(self) -> None:
        self.conn.close()


def run_clients(sim: KubeSimulator, clients: int, applies: int, prefix: str) -> tuple[float, int]:
    """``applies`` applies spread over ``clients`` threads; returns (applies/s, errors)."""
    per_client = max(1, applies // clients)
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def work(index: int) -> None:
        client = Client(sim)
        barrier.wait()
        try:
            for n in range(per_client):
                status = client.apply(f"{prefix}-{index}-{n}")
                if status not in (200, 201):
                    errors.append(str(status))
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return per_client * clients / elapsed, len(errors)


def throughput(rounds: int, applies: int) -> dict[str, Any]:
    single, concurrent = [], []
    errors = 0
    for round_no in range(rounds):
        # A fresh simulator per round, so rounds do not slow down on earlier rounds' objects.
        with KubeSimulator(readiness_delay=0.05) as sim:
            rate, errs = run_clients(sim, 1, applies, f"s{round_no}")
            single.append(rate)
            errors += errs
        with KubeSimulator(readiness_delay=0.05) as sim:
            rate, errs = run_clients(sim, 20, applies, f"c{round_no}")
            concurrent.append(rate)
            errors += errs
    return {
        "single": statistics.median(single),
        "concurrent": statistics.median(concurrent),
        "errors": errors,
    }


def startup(rounds: int) -> float:
    """Median seconds from constructing a simulator to it answering (kubeconfig written)."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        sim = KubeSimulator().start()
        times.append(time.perf_counter() - started)
        sim.stop()
    return statistics.median(times)


def stress(applies: int) -> tuple[float, int, int]:
    with KubeSimulator(readiness_delay=0.05) as sim:
        rate, errors = run_clients(sim, 50, applies, "x")
        return rate, errors, len(sim.controller_errors)


def memory(count: int) -> tuple[float, float]:
    """(MiB held by ``count`` stored ConfigMaps, bytes per object), controllers off."""
    with KubeSimulator(controllers=False) as sim:
        rtype = sim.types.preferred("", "configmaps")
        assert rtype is not None
        opts = WriteOptions(manager="bench")
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        with sim.store.lock:
            for n in range(count):
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{n}", "labels": {"app": "bench", "n": str(n)}},
                    "data": {"key": "v" * 64},
                }
                sim.api.create(rtype, "default", body, opts)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        return held / 2**20, held / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--applies", type=int, default=400)
    parser.add_argument("--objects", type=int, default=10_000)
    args = parser.parse_args()
    print(f"start-up to ready (median of 10): {startup(10) * 1000:.0f} ms")
    result = throughput(args.rounds, args.applies)
    ratio = result["concurrent"] / result["single"]
    print(f"server-side applies of Deployments, controllers on, median of {args.rounds} rounds:")
    print(f"  1 client:    {result['single']:8.1f} applies/s")
    print(f"  20 clients:  {result['concurrent']:8.1f} applies/s  (ratio to 1 client: {ratio:.2f})")
    print(f"  errors: {result['errors']}")
    rate, errors, controller_errors = stress(args.applies)
    print(f"50 concurrent clients: {rate:8.1f} applies/s, request errors: {errors}")
    print(f"  controller errors: {controller_errors}")
    mib, per_object = memory(args.objects)
    per_kib = per_object / 1024
    print(f"memory for {args.objects} stored ConfigMaps: {mib:.1f} MiB ({per_kib:.2f} KiB each)")


if __name__ == "__main__":
    main()
