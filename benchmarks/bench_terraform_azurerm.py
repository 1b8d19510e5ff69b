"""Benchmark of the Azure plugin's Terraform runs versus terraform alone, on the azurerm
backend against Azurite.

Figures printed (no thresholds; the ratio compares against a baseline measured in the same
run, round by round, alternating):

* **terraform alone** (the baseline): ``init``, ``plan -out``, ``apply`` of that plan and
  ``output -json`` of a root module of N builtin ``terraform_data`` resources, with the
  azurerm backend on Azurite (HTTPS, the local metadata host and proxy), a SAS in terraform's
  environment;
* **through qengine**: the same module and commands through ``qengine_azure.terraform_run``:
  a fresh 0700 workspace, the backend reading and writing the state with Entra tokens from the
  run's local managed-identity endpoint (the job's client-secret credential through
  azure-identity, from the stand-in Entra ID; Azurite in its OAuth mode), the JSON plan read
  back and checked by the destructive-change guard, every line redacted.

Each round writes a new state blob (a create) under its own key, so each takes and releases
the blob lease once per command. Needs terraform on PATH and Azurite
(``plugins/azure/scripts/get-azurite.sh``).

Run: ``PYTHONPATH=.:plugins/azure python3 benchmarks/bench_terraform_azurerm.py``
(options ``--rounds N --resources N``).
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

from qengine_azure.credentials import AzureAccess
from qengine_azure.local_arm import LocalArm
from qengine_azure.local_azurite import LocalAzurite
from qengine_azure.settings import AzureSettings
from qengine_azure.spec import AksNodePool, AzureProvider, AzureResourceGroup, AzureStateStorage
from qengine_azure.state_backend import StateLocation
from qengine_azure.terraform_run import terraform_for

from qengine.plugin import CancelToken, SandboxCluster, SecretValue, StepContext
from qengine.spec import SecretName, SecretRef
from qengine.terraform import ProviderSources, find_terraform

ACCOUNT = "qenginebenchstate"
CONTAINER = "tfstate"
#: Marks the run as a sandbox one (no azurerm provider, no credential for it); never reached.
PLACEHOLDER = SandboxCluster(endpoint="https://127.0.0.1:6443", ca_pem="", token="")


def module(resources: int) -> dict[str, Any]:
    """N terraform_data resources, an azurerm backend, one output."""
    return {
        "terraform": {"backend": {"azurerm": {}}},
        "resource": {
            "terraform_data": {f"r{i}": {"input": {"index": i}} for i in range(resources)}
        },
        "output": {"count": {"value": resources}},
    }


def access(azurite: LocalAzurite, arm: LocalArm) -> AzureAccess:
    provider = AzureProvider(
        kind="azure",
        subscription_id="00000000-0000-0000-0000-000000000001",
        tenant_id="00000000-0000-0000-0000-000000000002",
        client_id="00000000-0000-0000-0000-000000000003",
        client_secret=SecretRef(secret=SecretName("bench-secret")),
        location="westeurope",
        resource_group=AzureResourceGroup(name="rg-bench"),
        node_pools=(AksNodePool(name="system", vm_size="Standard_D4s_v5", mode="System"),),
        state=AzureStateStorage(storage_account=ACCOUNT, container=CONTAINER),
    )
    # The stand-in module needs no provider: `sandbox` set keeps the job's credential away
    # from terraform; the backend's tokens come from the stand-in Entra ID, as in the sandbox.
    settings = AzureSettings(
        arm_endpoint=arm.url,
        authority=arm.url,
        ca_file=azurite.ca_file,
        blob_endpoint=azurite.account_url,
        terraform_env=azurite.terraform_environment(),
        sandbox=PLACEHOLDER,
    )
    return AzureAccess(
        identity=provider, open_secret=lambda name: SecretValue("bench"), settings=settings
    )


def raw_terraform(
    work: Path, doc: dict[str, Any], backend: dict[str, Any], env: dict[str, str]
) -> float:
    """init, plan, apply, output with terraform alone; seconds."""
    (work / "main.tf.json").write_text(json.dumps(doc))
    (work / "backend.json").write_text(json.dumps(backend))
    config = {"provider_installation": [{"direct": [{"exclude": ["*/*/*"]}]}]}
    (work / "cli.tfrc.json").write_text(json.dumps(config))
    full = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "TF_CLI_CONFIG_FILE": str(work / "cli.tfrc.json"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        **env,
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
        subprocess.run([tf, *args], cwd=work, env=full, check=True, capture_output=True)
    return time.perf_counter() - start


def through_qengine(azure: AzureAccess, doc: dict[str, Any], location: StateLocation) -> float:
    """The same through terraform_for; seconds."""
    ctx = StepContext(
        job_id="bench",
        organization_id="org-bench",
        target_id="cluster/bench",
        step_id="azure.apply",
        idempotency_key="bench/azure.apply",
        cancel=CancelToken(),
    )
    start = time.perf_counter()
    with terraform_for(
        ctx, azure, doc, location, allow_destructive=False, sources=ProviderSources()
    ) as tf:
        tf.apply(tf.plan())
        tf.outputs()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resources", type=int, default=20)
    args = parser.parse_args()
    with LocalAzurite((ACCOUNT,)) as azurite:
        assert azurite.tls is not None
        azurite.create_container(ACCOUNT, CONTAINER)
        with LocalArm(azurite.tls) as arm:
            run(azurite, arm, args.rounds, args.resources)


def run(azurite: LocalAzurite, arm: LocalArm, rounds: int, resources: int) -> None:
    azure = access(azurite, arm)
    doc = module(resources)
    raw: list[float] = []
    ours: list[float] = []
    for round_ in range(rounds):
        for name, runner in (("raw", raw), ("qengine", ours)):
            location = StateLocation(
                resource_group="rg-bench",
                storage_account=ACCOUNT,
                container=CONTAINER,
                key=f"bench/{name}-{round_}.tfstate",
            )
            if name == "raw":
                env = {
                    **azurite.terraform_environment(),
                    "ARM_SAS_TOKEN": azurite.account_sas(ACCOUNT),
                }
                with tempfile.TemporaryDirectory() as work:
                    runner.append(raw_terraform(Path(work), doc, location.backend_config(), env))
            else:
                runner.append(through_qengine(azure, doc, location))
    raw_median, our_median = statistics.median(raw), statistics.median(ours)
    print(f"terraform_data resources: {resources}, rounds: {rounds}, backend: azurerm (Azurite)")
    print(f"terraform alone (init, plan, apply, output): median {raw_median:.3f} s")
    print(
        f"through qengine (same, Entra tokens from the run's endpoint): median {our_median:.3f} s"
    )
    print(f"ratio qengine / terraform alone: {our_median / raw_median:.2f}")
    print(f"difference per run: {our_median - raw_median:+.3f} s (qengine adds a terraform")
    print("  process, `show -json` for the guard, a fresh workspace and the run's token")
    print("  endpoint; the baseline's SAS, CLI configuration and plain-text output differ too)")


if __name__ == "__main__":
    main()
