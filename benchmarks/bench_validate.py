"""Cold ``qengine validate`` against a bare ``import attrs, cattrs, pluggy``, in the same run.

Each sample is a fresh interpreter, alternating the two commands so that machine load affects
both alike. Prints the medians and their ratio (the target is at most 3x), and which cloud SDK
modules the validation imported (the target is none).
"""

from __future__ import annotations

import json
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


if __name__ == "__main__":
    main()
