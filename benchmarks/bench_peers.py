"""Benchmark of ``qengine run`` against Helm and kubectl, on the Kubernetes simulator.

For an environment of N container services (``--services``, default 50 and 500), each round
deploys the same objects three ways, each on its own fresh simulator (readiness delay 0),
each as a whole command-line process:

* ``qengine run`` of the job spec (target ``kubeconfig`` pointing at the simulator), the
  console script beside this interpreter (not a version manager's shim);
* ``helm upgrade --install --wait`` of the chart ``qengine export`` writes for that spec (helm
  from ``QENGINE_HELM``, else ``bash .ci/get-helm.sh``, where the tests get it);
* ``kubectl apply --server-side`` of the same objects (``helm template`` of that chart, one
  file) followed by ``kubectl wait --for=condition=Available`` of the Deployments.

Each tool deploys twice: a first deploy, then a no-op redeploy of the same spec (for qengine a
new job id). Figures, medians of ``--rounds`` rounds (default 3):

* wall time of the process(es), and per service;
* API requests the simulator received (``sim.arrivals()``: a watch counts from its start),
  mutating requests (POST, PUT, PATCH, DELETE), and for qengine the mutating requests less
  the job's Lease (every job takes and releases its Lease, whatever it changes);
* peak resident memory of the tool's process (``wait4``'s ``ru_maxrss``; kubectl: the larger
  of its two processes), and the CPU time it used (user + system; steadier than wall time
  on a shared machine);
* CPU time the simulator spent serving the run (it runs in this process): how much of the
  wall time the Python simulator itself accounts for;
* ratios qengine / helm of time and requests.

The children get a private ``HOME`` and Helm directories, and the bytecode cache is allowed
(``PYTHONDONTWRITEBYTECODE`` removed), so qengine starts as an installed tool does. A warm-up
round with 2 services (not counted) fills the bytecode cache.

Run::

    python3 benchmarks/bench_peers.py            # N=50 and N=500, 3 rounds
    python3 benchmarks/bench_peers.py --quick    # N=50, 1 round
    python3 benchmarks/bench_peers.py --services 50 --rounds 5 --max-parallel 8
    python3 benchmarks/bench_peers.py --services 1000 --rounds 1 --tool qengine
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qengine.testing.kube import KubeSimulator  # noqa: E402

TOOLS = ("qengine", "helm", "kubectl")
PHASES = ("deploy", "noop")


def job_document(services: int, kubeconfig: Path, job_id: str, max_parallel: int) -> Any:
    """An environment job of ``services`` container services on the cluster of ``kubeconfig``."""
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": job_id,
        "organization": {"id": "org-bench"},
        "actor": {"id": "actor-bench"},
        "action": "deploy",
        "created_at": "2026-01-01T00:00:00Z",
        "not_after": "2099-01-01T00:00:00Z",
        "max_parallel": max_parallel,
        "target": {"kind": "kubeconfig", "path": str(kubeconfig)},
        "environment": {
            "id": "env-bench",
            "name": "bench",
            "services": [
                {
                    "kind": "container",
                    "name": f"svc-{n:03d}",
                    "image": "registry.k8s.io/pause",
                    "tag": "3.9",
                    "ports": [{"port": 8080}],
                    "env": {"INDEX": str(n)},
                }
                for n in range(services)
            ],
        },
    }


def qengine_binary() -> str:
    """The ``qengine`` console script installed beside this interpreter, run directly: a
    version manager's shim on ``PATH`` (pyenv's costs about 0.1 s a run) is not the tool."""
    beside = Path(sys.executable).parent / "qengine"
    return str(beside) if beside.is_file() else "qengine"


def helm_binary() -> str:
    """helm from ``QENGINE_HELM``, else from ``.ci/get-helm.sh``."""
    configured = os.environ.get("QENGINE_HELM")
    if configured:
        return configured
    script = ROOT / ".ci" / "get-helm.sh"
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def child_env(home: Path) -> dict[str, str]:
    """The environment of every child: a private home and Helm directories, bytecode allowed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("KUBECONFIG", None)
    env["HOME"] = str(home)
    for name in ("CACHE", "CONFIG", "DATA"):
        env[f"HELM_{name}_HOME"] = str(home / f"helm-{name.lower()}")
    return env


def timed(argv: Sequence[str], env: dict[str, str]) -> tuple[float, int, float, str]:
    """Run ``argv``: (seconds, peak RSS in KiB, CPU seconds, stderr); raise when it fails."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {text[-3000:]}")
    return elapsed, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime, text


def measure(sim: KubeSimulator, runs: Sequence[Sequence[str]], env: dict[str, str]) -> Any:
    """Run ``runs`` one after the other on ``sim``: the figures of the whole."""
    sim.clear_requests()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    seconds, peak, tool_cpu = 0.0, 0, 0.0
    for argv in runs:
        elapsed, rss, used, _ = timed(argv, env)
        seconds += elapsed
        peak = max(peak, rss)
        tool_cpu += used
    after = resource.getrusage(resource.RUSAGE_SELF)
    # Counted as they arrived: a watch a process left open is logged only when it times out.
    records = sim.arrivals()
    return {
        "s": seconds,
        "requests": len(records),
        "mutating": sum(1 for r in records if r.mutating),
        "mutating_not_lease": sum(1 for r in records if r.mutating and "/leases" not in r.path),
        "rss_mib": peak / 1024,
        "cpu_s": tool_cpu,
        "sim_cpu_s": (after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime),
    }


def qengine_round(services: int, work: Path, env: dict[str, str], parallel: int) -> Any:
    figures: dict[str, Any] = {}
    with KubeSimulator(readiness_delay=0) as sim:
        state = work / "qengine-state"
        for phase in PHASES:
            spec = work / f"qengine-{phase}.json"
            doc = job_document(services, sim.kubeconfig_path, f"bench-{phase}", parallel)
            spec.write_text(json.dumps(doc))
            argv = [qengine_binary(), "run", "--state-dir", str(state), "--", str(spec)]
            figures[phase] = measure(sim, [argv], env)
            progress(services, "qengine", phase, figures[phase])
    return figures


def progress(services: int, tool: str, phase: str, figures: Any) -> None:
    """One measurement as it is taken, on standard error (a 500-service round is long)."""
    shown = ", ".join(f"{k} {v:.2f}" for k, v in figures.items())
    print(f"  [{services} {tool} {phase}] {shown}", file=sys.stderr, flush=True)


def export_chart(services: int, work: Path, env: dict[str, str], helm: str) -> Path:
    """``qengine export`` of the spec, and ``helm template`` of its chart in one file."""
    spec = work / "export.json"
    spec.write_text(json.dumps(job_document(services, work / "unused", "bench-export", 8)))
    out = work / "export"
    subprocess.run(
        [qengine_binary(), "export", f"--out-dir={out}", "--", str(spec)],
        env=env,
        check=True,
        capture_output=True,
    )
    chart = out / "chart"
    rendered = subprocess.run(
        [helm, "template", f"--values={chart / 'values.yaml'}", "--", "bench", str(chart)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (work / "all.yaml").write_text(rendered)
    return chart


def helm_round(services: int, chart: Path, helm: str, env: dict[str, str]) -> Any:
    figures: dict[str, Any] = {}
    with KubeSimulator(readiness_delay=0) as sim:
        argv = [
            helm,
            "upgrade",
            "--install",
            "--wait",
            "--timeout=10m",
            f"--kubeconfig={sim.kubeconfig_path}",
            f"--values={chart / 'values.yaml'}",
            "--",
            "bench",
            str(chart),
        ]
        for phase in PHASES:
            figures[phase] = measure(sim, [argv], env)
            progress(services, "helm", phase, figures[phase])
    return figures


def namespace_of(manifests: Path) -> str:
    for line in manifests.read_text().splitlines():
        if line.startswith("  namespace: "):
            return line.split(":", 1)[1].strip()
    raise RuntimeError("no namespace in the rendered chart")


def kubectl_round(services: int, manifests: Path, env: dict[str, str]) -> Any:
    figures: dict[str, Any] = {}
    namespace = namespace_of(manifests)
    with KubeSimulator(readiness_delay=0) as sim:
        base = ["kubectl", f"--kubeconfig={sim.kubeconfig_path}"]
        apply = [*base, "apply", "--server-side", "--field-manager=bench", "-f", str(manifests)]
        wait = [
            *base,
            "wait",
            "--for=condition=Available",
            "--timeout=10m",
            f"--namespace={namespace}",
            "deployments",
            "--all",
        ]
        for phase in PHASES:
            figures[phase] = measure(sim, [apply, wait], env)
            progress(services, "kubectl", phase, figures[phase])
    return figures


def one_round(
    services: int, base: Path, helm: str, parallel: int, tools: Sequence[str] = TOOLS
) -> Any:
    work = Path(tempfile.mkdtemp(dir=base))
    env = child_env(base / "home")
    chart = export_chart(services, work, env, helm)
    figures: dict[str, Any] = {}
    if "qengine" in tools:
        figures["qengine"] = qengine_round(services, work, env, parallel)
    if "helm" in tools:
        figures["helm"] = helm_round(services, chart, helm, env)
    if "kubectl" in tools:
        figures["kubectl"] = kubectl_round(services, work / "all.yaml", env)
    return figures


def medians(rounds: list[Any], tools: Sequence[str]) -> Any:
    out: dict[str, Any] = {}
    for tool in tools:
        for phase in PHASES:
            keys = rounds[0][tool][phase]
            out.setdefault(tool, {})[phase] = {
                k: statistics.median(r[tool][phase][k] for r in rounds) for k in keys
            }
    return out


def report(services: int, rounds: int, med: Any, tools: Sequence[str]) -> Any:
    print(f"\n{services} container services, medians of {rounds} round(s)")
    header = f"  {'':18}{'wall s':>8}{'ms/svc':>8}{'requests':>10}{'mutating':>10}"
    print(header + f"{'peak MiB':>10}{'cpu s':>7}{'sim cpu s':>11}")
    for tool in tools:
        for phase in PHASES:
            f = med[tool][phase]
            mutating = f"{f['mutating']:.0f}"
            if tool == "qengine":
                mutating = (
                    f"{f['mutating_not_lease']:.0f}+{f['mutating'] - f['mutating_not_lease']:.0f}L"
                )
            print(
                f"  {tool + ' ' + phase:18}{f['s']:8.2f}{f['s'] / services * 1000:8.1f}"
                f"{f['requests']:10.0f}{mutating:>10}{f['rss_mib']:10.1f}{f['cpu_s']:7.2f}"
                f"{f['sim_cpu_s']:11.2f}"
            )
    ratios: dict[str, float] = {}
    for phase in PHASES if {"qengine", "helm"} <= set(tools) else ():
        q, h = med["qengine"][phase], med["helm"][phase]
        ratios[f"{phase}_time_qengine_over_helm"] = q["s"] / h["s"]
        ratios[f"{phase}_cpu_qengine_over_helm"] = q["cpu_s"] / max(h["cpu_s"], 1e-9)
        ratios[f"{phase}_requests_qengine_over_helm"] = q["requests"] / max(h["requests"], 1)
    for name, value in ratios.items():
        print(f"  {name}: {value:.2f}")
    print("  (qengine mutating: N+kL = N object writes + k writes of the job's Lease)")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, action="append")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-parallel", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="N=50, 1 round")
    parser.add_argument("--json", type=Path, help="also write the medians to this file")
    parser.add_argument(
        "--tool", action="append", choices=TOOLS, help="run only this tool (repeatable)"
    )
    args = parser.parse_args()
    tools = args.tool or list(TOOLS)
    sizes = [50] if args.quick else (args.services or [50, 500])
    rounds = 1 if args.quick else args.rounds
    helm = helm_binary()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        one_round(2, base, helm, args.max_parallel, tools)  # warm-up: bytecode, not counted
        for services in sizes:
            collected = [
                one_round(services, base, helm, args.max_parallel, tools) for _ in range(rounds)
            ]
            med = medians(collected, tools)
            ratios = report(services, rounds, med, tools)
            results[str(services)] = {"medians": med, "ratios": ratios}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
