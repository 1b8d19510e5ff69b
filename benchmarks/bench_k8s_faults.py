"""Benchmark: the quickstart deploy under injected Kubernetes API faults.

For each fault kind (``500``, ``429`` with ``Retry-After: 1``, ``drop``: the connection closed
without an answer) and each fraction of requests (10 %, 20 %, 30 %), ``--runs`` deploys of the
quickstart, each on a fresh simulator (readiness delay 0), through ``Engine.run``. Printed per
cell: the success rate, the median wall time, its ratio to the fault-free baseline measured in
the same run, the median number of requests the engine re-sent, and the median number of step
retries (whole steps run again: expected 0, retries happen per request).

Run: ``python3 benchmarks/bench_k8s_faults.py [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from qengine_kubernetes.settings import KubeSettings

from qengine import Engine, Event, EventType, load_plugins
from qengine.runner import JobStatus, MemoryStateStore
from qengine.testing.kube import ApiFault, KubeSimulator

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = json.loads((ROOT / "examples" / "quickstart" / "job.json").read_text())
SECRETS = json.loads((ROOT / "examples" / "quickstart" / "secrets.json").read_text())
KINDS = ("500", "429", "drop")
FRACTIONS = (0.1, 0.2, 0.3)


def one_run(fault: ApiFault | None, seed: int) -> dict[str, float]:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    with KubeSimulator(readiness_delay=0, seed_value=seed) as sim:
        ca = sim.ca_pem
        settings = KubeSettings(
            endpoint=sim.url,
            ca_pem=ca.decode() if isinstance(ca, bytes) else str(ca),
            token=sim.token,
        )
        engine = Engine(plugins, store=MemoryStateStore(), settings={"kubernetes": settings})
        if fault is not None:
            sim.faults.add_api(fault)
        events: list[Event] = []
        start = time.perf_counter()
        result = engine.run(
            {**QUICKSTART, "id": f"bench-faults-{seed}"},
            sandbox_secrets=SECRETS,
            on_event=events.append,
        )
        elapsed = time.perf_counter() - start
        failed = sum(1 for r in sim.requests() if r.status in (0, 429, 500))
    step_retries = sum(
        1 for e in events if e.type is EventType.WARNING and "retrying in" in e.message
    )
    return {
        "ok": float(result.status is JobStatus.SUCCEEDED),
        "seconds": elapsed,
        "resent": float(failed),
        "step_retries": float(step_retries),
    }


def cell(fault: ApiFault | None, runs: int) -> dict[str, float]:
    rounds = [one_run(fault, seed) for seed in range(1, runs + 1)]
    return {
        "success": sum(r["ok"] for r in rounds) / runs,
        "median_s": statistics.median(r["seconds"] for r in rounds),
        "median_resent": statistics.median(r["resent"] for r in rounds),
        "median_step_retries": statistics.median(r["step_retries"] for r in rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    baseline = cell(None, args.runs)
    print(f"quickstart deploy under API faults, {args.runs} runs per cell (medians)")
    print(f"  no fault: success {baseline['success']:.0%}, {baseline['median_s']:.2f} s")
    table: dict[str, dict[str, float]] = {"none": baseline}
    for kind in KINDS:
        for fraction in FRACTIONS:
            fault = ApiFault(kind=kind, fraction=fraction, retry_after=1)
            figures = cell(fault, args.runs)
            figures["ratio_to_no_fault"] = figures["median_s"] / baseline["median_s"]
            table[f"{kind}@{fraction:.0%}"] = figures
            print(
                f"  {kind:>4} at {fraction:.0%}: success {figures['success']:.0%}, "
                f"{figures['median_s']:.2f} s ({figures['ratio_to_no_fault']:.2f}x no fault), "
                f"{figures['median_resent']:.0f} requests re-sent, "
                f"{figures['median_step_retries']:.0f} step retries"
            )
    print(json.dumps({k: {n: round(v, 3) for n, v in f.items()} for k, f in table.items()}))


if __name__ == "__main__":
    main()
