"""Benchmark of the GCP plugin's Terraform runs versus terraform alone, on the gcs backend.

Figures printed (no thresholds; the ratio compares against a baseline measured in the same
run, round by round, alternating):

* **terraform alone** (the baseline): ``init``, ``plan -out``, ``apply`` of that plan and
  ``output -json`` of a root module of N builtin ``terraform_data`` resources, with the
  ``gcs`` backend on a local fake-gcs-server, an access token in terraform's environment;
* **through qengine**: the same module and commands through ``qengine_gcp.terraform_run``:
  a fresh 0700 workspace, our CLI configuration, the JSON plan read back and checked by the
  destructive-change guard, every line redacted, and the token served by the run's local
  metadata endpoint (its requests counted).

Each round writes a new state prefix (a create). Needs terraform on PATH and the GCP plugin's
``sandbox`` extra (fake-gcs-server).

Run: ``PYTHONPATH=.:plugins/gcp python3 benchmarks/bench_terraform_gcs.py [--rounds N]``
(``--resources N``: the module's size)
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

from qengine_gcp.credentials import GcpAccess
from qengine_gcp.local_gcs import LocalGcs
from qengine_gcp.sandbox import SANDBOX_TOKEN
from qengine_gcp.settings import GcpSettings
from qengine_gcp.spec import GcpProvider, NodePool, StateBucket
from qengine_gcp.state_backend import StateLocation, ensure_state_backend
from qengine_gcp.terraform_run import backend_config, terraform_for

from qengine.plugin import CancelToken, SecretValue, StepContext
from qengine.spec import DnsLabel
from qengine.terraform import ProviderSources, find_terraform

BUCKET = "qengine-bench-state"


def module(resources: int) -> dict[str, Any]:
    """N terraform_data resources, a gcs backend, one output."""
    return {
        "terraform": {"backend": {"gcs": {}}},
        "resource": {
            "terraform_data": {f"r{i}": {"input": {"index": i}} for i in range(resources)}
        },
        "output": {"count": {"value": resources}},
    }


def access(endpoint: str) -> GcpAccess:
    provider = GcpProvider(
        kind="gcp",
        project="qengine-bench",
        region="europe-west1",
        service_account="bench-deployer@qengine-bench.iam.gserviceaccount.com",
        node_pools=(NodePool(name=DnsLabel("general"), machine_type="e2-standard-4"),),
    )
    settings = GcpSettings(storage_endpoint=endpoint, sandbox_token=SANDBOX_TOKEN)
    return GcpAccess(identity=provider, open_secret=SecretValue, settings=settings)


def raw_terraform(work: Path, doc: dict[str, Any], backend: dict[str, Any]) -> float:
    """init, plan, apply, output with terraform alone; seconds."""
    (work / "main.tf.json").write_text(json.dumps(doc))
    (work / "backend.json").write_text(json.dumps(backend))
    mirror = work / "empty-mirror"
    mirror.mkdir()
    config = {
        "provider_installation": [
            {
                "filesystem_mirror": [{"path": str(mirror), "include": ["*/*/*"]}],
                "direct": [{"exclude": ["*/*/*"]}],
            }
        ]
    }
    (work / "cli.tfrc.json").write_text(json.dumps(config))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "TF_CLI_CONFIG_FILE": str(work / "cli.tfrc.json"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "GOOGLE_OAUTH_ACCESS_TOKEN": SANDBOX_TOKEN,
    }
    tf = str(find_terraform())
    commands = [
        ["init", "-input=false", "-no-color", "-backend-config=backend.json"],
        ["plan", "-input=false", "-no-color", "-out=plan.tfplan"],
        ["apply", "-input=false", "-no-color", "plan.tfplan"],
        ["output", "-json"],
    ]
    start = time.perf_counter()
    for args in commands:
        subprocess.run([tf, *args], cwd=work, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def through_qengine(gcp: GcpAccess, doc: dict[str, Any], location: StateLocation) -> float:
    """The same through terraform_for; seconds."""
    ctx = StepContext(
        job_id="bench",
        organization_id="org-bench",
        target_id="cluster/bench",
        step_id="gcp.apply",
        idempotency_key="bench/gcp.apply",
        cancel=CancelToken(),
    )
    start = time.perf_counter()
    with terraform_for(
        ctx, gcp, doc, location, allow_destructive=False, sources=ProviderSources()
    ) as tf:
        tf.apply(tf.plan())
        tf.outputs()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resources", type=int, default=20)
    args = parser.parse_args()
    with LocalGcs() as gcs:
        run(gcs.url, args.rounds, args.resources)


def run(endpoint: str, rounds: int, resources: int) -> None:
    gcp = access(endpoint)
    ensure_state_backend(gcp, StateBucket(bucket=BUCKET), cluster_id="bench")
    doc = module(resources)
    raw: list[float] = []
    ours: list[float] = []
    for round_ in range(rounds):
        for name, runner in (("raw", raw), ("qengine", ours)):
            location = StateLocation(bucket=BUCKET, prefix=f"bench/{name}-{round_}")
            if name == "raw":
                with tempfile.TemporaryDirectory() as work:
                    runner.append(
                        raw_terraform(Path(work), doc, backend_config(location, endpoint))
                    )
            else:
                runner.append(through_qengine(gcp, doc, location))
    raw_median, our_median = statistics.median(raw), statistics.median(ours)
    print(f"terraform_data resources: {resources}, rounds: {rounds}, backend: gcs")
    print(f"terraform alone (init, plan, apply, output): median {raw_median:.3f} s")
    print(f"through qengine (same, metadata endpoint): median {our_median:.3f} s")
    print(f"ratio qengine / terraform alone: {our_median / raw_median:.2f}")
    print(f"fixed cost per run: {our_median - raw_median:+.3f} s (one more terraform process,")
    print("  `show -json` for the guard; the workspace; the metadata endpoint)")


if __name__ == "__main__":
    main()
