"""Cold ``qengine validate`` against a bare ``import attrs, cattrs, pluggy``, in the same run.

Every first-party plugin must be installed (the run stops otherwise): the figure is the cost of
validating with all of them loaded. Each sample is a fresh interpreter, the commands alternating
within each round so that machine load affects them alike; one unmeasured round first writes
the bytecode caches (an installed package has its bytecode compiled, so ``PYTHONDONTWRITEBYTECODE``
is dropped for the children). Prints, per example, the median wall time and the median CPU time
(user + system of the child, steadier than wall time on a shared machine) and their ratios to
the baseline's (the target is at most 2.5x), and which cloud SDK modules validation imported
(the target is none).

Then the scaling of validation with the size of untrusted input: ``depends_on`` chains of 300,
1,000 and 3,000 services, validated in-process (the core's checks with the test plugin, and
with every installed plugin), as medians and as ratios to the 300-service chain: linear work
gives ratios near 3.3 and 10, quadratic work 11 and 100, cubic work 37 and 1,000.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 21
EXAMPLES = ("quickstart", "aws-eks", "gke", "aks")
FIRST_PARTY = {"addons", "aws", "azure", "buildah", "docker", "gcp", "kubernetes", "oci"}
SDKS = ("boto3", "botocore", "google", "azure", "kubernetes")
TARGET = 2.5


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for knob in ("QENGINE_PLUGINS", "QENGINE_DISABLE_PLUGINS", "QENGINE_DISABLE_PLUGIN_AUTOLOAD"):
        env.pop(knob, None)
    return env


def _sample(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv`` in a fresh interpreter."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def _check_plugins(env: dict[str, str]) -> list[str]:
    listed = subprocess.run(
        [sys.executable, "-m", "qengine", "plugins", "--output", "json"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    loaded = sorted(p["name"] for p in json.loads(listed.stdout) if p["loaded"])
    missing = FIRST_PARTY - set(loaded)
    if missing:
        sys.exit(f"first-party plugins not installed or not loading: {', '.join(sorted(missing))}")
    return loaded


def main() -> None:
    env = _env()
    plugins = _check_plugins(env)
    commands = {"baseline": [sys.executable, "-c", "import attrs, cattrs, pluggy"]}
    for example in EXAMPLES:
        spec = str(ROOT / "examples" / example / "job.json")
        commands[example] = [sys.executable, "-m", "qengine", "validate", spec]
    for argv in commands.values():  # writes the bytecode caches; not measured
        _sample(argv, env)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, argv in commands.items():
            samples[name].append(_sample(argv, env))
    wall = {n: statistics.median(s[0] for s in v) for n, v in samples.items()}
    cpu = {n: statistics.median(s[1] for s in v) for n, v in samples.items()}
    results = {
        name: {
            "wall_median_s": round(wall[name], 4),
            "cpu_median_s": round(cpu[name], 4),
            "wall_ratio": round(wall[name] / wall["baseline"], 2),
            "cpu_ratio": round(cpu[name] / cpu["baseline"], 2),
        }
        for name in commands
    }
    probe = (
        "import sys; from qengine.cli import main; "
        f"main(['validate', {str(ROOT / 'examples' / 'aws-eks' / 'job.json')!r}]); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r}))"
    )
    imported = (
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    report = {
        "runs": RUNS,
        "plugins_loaded": plugins,
        "target_ratio": TARGET,
        "results": results,
        "sdk_modules_imported": imported,
    }
    print(json.dumps(report, indent=2))
    print(json.dumps({"depends_on_chains": _chains()}, indent=2))


_CHAIN_PROBE = """
import json, statistics, sys, time
from qengine._plugins import load_plugins
import qengine.testing.plugin as test_plugin
sizes, repeat, limit = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
target = sys.argv[4]
plugins = load_plugins(plugins=[("test", test_plugin)])
out = {}
for n in sizes:
    if n > limit:
        continue
    services = [{"kind": "container", "name": f"s{i}", "image": "registry.example.com/app",
                 "tag": "1", **({"depends_on": [f"s{i - 1}"]} if i else {})} for i in range(n)]
    doc = {"apiVersion": "qengine.dev/v1", "kind": "EnvironmentJob", "id": "chain",
           "organization": {"id": "o"}, "actor": {"id": "a"}, "action": "deploy",
           "target": {"kind": "test", "steps": "a"} if target == "test" else {"kind": target},
           "environment": {"id": "e", "name": "e", "services": services}}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        plugins.loader.load(doc)
        times.append(time.perf_counter() - start)
    out[n] = statistics.median(times)
print(json.dumps(out))
"""


def _chains() -> dict[str, dict[str, float]]:
    """Validation time of depends_on chains: core checks only, then every plugin's too."""
    sizes = [300, 1000, 3000]
    figures: dict[str, dict[str, float]] = {}
    # On the sandbox target every plugin's checks run too, the Kubernetes plugin's stage
    # ordering included (linear since it orders level by level; cubic before, about 90 s at
    # 3,000).
    runs = (
        ("core (test target)", "1", 3000, "test"),
        ("all plugins (sandbox)", "", 3000, "sandbox"),
    )
    for label, autoload, limit, target in runs:
        env = dict(os.environ, QENGINE_DISABLE_PLUGIN_AUTOLOAD=autoload)
        argv = [sys.executable, "-c", _CHAIN_PROBE, json.dumps(sizes), "3", str(limit), target]
        done = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        medians = {int(k): v for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
        row = {f"{n}_median_s": round(t, 4) for n, t in medians.items()}
        row |= {f"ratio_{n}_to_300": round(t / medians[300], 1) for n, t in medians.items()}
        figures[label] = row
    return figures


if __name__ == "__main__":
    main()
