"""Cold ``qengine validate`` against a bare ``import attrs, cattrs, pluggy``, in the same run.

Each sample is a fresh interpreter, alternating the two commands so that machine load affects
both alike. Prints the medians and their ratio (the target is at most 3x), and which cloud SDK
modules the validation imported (the target is none).

Then the scaling of validation with the size of untrusted input: ``depends_on`` chains of 300,
1,000 and 3,000 services, validated in-process (the core's checks with the test plugin, and
with every installed plugin), as medians and as ratios to the 300-service chain: linear work
gives ratios near 3.3 and 10, quadratic work 11 and 100, cubic work 37 and 1,000.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 21
SDKS = ("boto3", "botocore", "google", "azure", "kubernetes")


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    baseline_cmd = [sys.executable, "-c", "import attrs, cattrs, pluggy"]
    results: dict[str, dict[str, float]] = {}
    for example in ("quickstart", "aws-eks"):
        spec = str(ROOT / "examples" / example / "job.json")
        validate_cmd = [sys.executable, "-m", "qengine", "validate", spec]
        base, ours = [], []
        for _ in range(RUNS):
            base.append(_time(baseline_cmd))
            ours.append(_time(validate_cmd))
        base_median, our_median = statistics.median(base), statistics.median(ours)
        results[example] = {
            "baseline_median_s": round(base_median, 4),
            "validate_median_s": round(our_median, 4),
            "ratio": round(our_median / base_median, 2),
        }
    probe = (
        "import sys; from qengine.cli import main; "
        f"main(['validate', {str(ROOT / 'examples' / 'aws-eks' / 'job.json')!r}]); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r}))"
    )
    imported = (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    print(
        json.dumps({"runs": RUNS, "results": results, "sdk_modules_imported": imported}, indent=2)
    )
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
