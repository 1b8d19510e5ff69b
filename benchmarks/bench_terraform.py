"""Benchmark of the AWS plugin's Terraform runs versus terraform alone.

Figures printed (no thresholds; the ratio compares against a baseline measured in the same
run, round by round, alternating):

* **terraform alone** (the baseline): ``init``, ``plan -out``, ``apply`` of that plan and
  ``output -json`` of a root module of N builtin ``terraform_data`` resources, with the S3
  backend and DynamoDB lock on moto, the keys in terraform's environment;
* **through qengine**: the same module and commands through ``qengine_aws.terraform_run``:
  a fresh 0700 workspace, our CLI configuration, the JSON plan read back and checked by the
  destructive-change guard, every line redacted, and the keys served by the run's local
  credential endpoint (counted).

Each round writes a new state object (a create). moto sits behind the project's TCP relay, as
in the sandbox. Needs terraform on PATH and ``moto[server]``.

Run: ``PYTHONPATH=.:plugins/aws python3 benchmarks/bench_terraform.py [--rounds N] [--resources N]``
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

from moto.server import ThreadedMotoServer
from qengine_aws.credentials import AwsAccess, CredentialRequest
from qengine_aws.settings import AwsSettings
from qengine_aws.spec import StateBackend
from qengine_aws.state_backend import StateLocation, ensure_state_backend
from qengine_aws.terraform_run import backend_config, terraform_for

from qengine.interfaces.cancel import CancelToken
from qengine.runner import StepContext
from qengine.runner.steps import StepEmitter
from qengine.secrets.value import SecretValue
from qengine.spec import SecretRef
from qengine.terraform import ProviderSources, find_terraform
from qengine.testing.tcp_relay import TcpRelay

KEY_ID = "AKIAQENGINEBENCH0001"
SECRET = "qengine-bench-secret-access-key-000000001"
REGION = "eu-west-3"
ACCOUNT = "123456789012"


def module(resources: int) -> dict[str, Any]:
    """N terraform_data resources, an S3 backend, one output."""
    return {
        "terraform": {"backend": {"s3": {}}},
        "resource": {
            "terraform_data": {f"r{i}": {"input": {"index": i}} for i in range(resources)}
        },
        "output": {"count": {"value": resources}},
    }


def access(endpoint: str) -> AwsAccess:
    request = CredentialRequest(
        region=REGION,
        job_id="bench",
        organization_id="org-bench",
        access_key_id=SecretRef(secret="key_id"),
        secret_access_key=SecretRef(secret="secret_key"),
    )
    values = {"key_id": KEY_ID, "secret_key": SECRET}
    return AwsAccess(
        request,
        open_secret=lambda name: SecretValue(values[name]),
        settings=AwsSettings(endpoint_url=endpoint),
    )


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
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": REGION,
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


def through_qengine(aws: AwsAccess, doc: dict[str, Any], location: StateLocation) -> float:
    """The same through terraform_for; seconds."""
    ctx = StepContext(
        job_id="bench",
        organization_id="org-bench",
        target_id="cluster/bench",
        step_id="aws.apply",
        idempotency_key="bench/aws.apply",
        cancel=CancelToken(),
        emitter=StepEmitter(),
    )
    start = time.perf_counter()
    with terraform_for(
        ctx, aws, doc, location, allow_destructive=False, sources=ProviderSources()
    ) as tf:
        tf.apply(tf.plan())
        tf.outputs()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resources", type=int, default=20)
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        with TcpRelay(server.get_host_and_port()[1]) as relay:
            run(relay.url, args.rounds, args.resources)
    finally:
        server.stop()


def run(endpoint: str, rounds: int, resources: int) -> None:
    aws = access(endpoint)
    base, _ = ensure_state_backend(
        aws, StateBackend(), cluster_id="bench", account=ACCOUNT, tls_only=False
    )
    doc = module(resources)
    raw: list[float] = []
    ours: list[float] = []
    for round_ in range(rounds):
        for name, runner in (("raw", raw), ("qengine", ours)):
            location = StateLocation(
                bucket=base.bucket,
                key=f"bench/{name}-{round_}/terraform.tfstate",
                region=base.region,
                lock_table=base.lock_table,
                kms_key_arn=base.kms_key_arn,
            )
            if name == "raw":
                with tempfile.TemporaryDirectory() as work:
                    runner.append(
                        raw_terraform(Path(work), doc, backend_config(location, endpoint))
                    )
            else:
                runner.append(through_qengine(aws, doc, location))
    raw_median, our_median = statistics.median(raw), statistics.median(ours)
    print(f"terraform_data resources: {resources}, rounds: {rounds}")
    print(f"terraform alone (init, plan, apply, output): median {raw_median:.3f} s")
    print(f"through qengine (same, credential endpoint): median {our_median:.3f} s")
    print(f"ratio qengine / terraform alone: {our_median / raw_median:.2f}")
    print(f"fixed cost per run: {our_median - raw_median:+.3f} s (one more terraform process,")
    print("  `show -json` for the guard; the workspace; the credential endpoint)")


if __name__ == "__main__":
    main()
