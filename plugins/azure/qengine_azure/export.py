"""``qengine export`` of an Azure infrastructure job: the real root module, ready to apply.

Written under ``terraform/azure/``: the root module (``main.tf.json``, the same data the
engine applies, never the sandbox stand-ins), the azurerm backend settings and a README on
applying it with ``terraform`` alone. No credential is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qengine.spec import InfrastructureJob
from qengine_azure.blueprint import AZURERM, REQUIRED_TERRAFORM, aks_root_module
from qengine_azure.credentials import provider_of
from qengine_azure.state_backend import state_location

SUBDIRECTORY = Path("terraform") / "azure"


def export_job(job: InfrastructureJob, directory: Path) -> list[str]:
    """Write the job's Terraform under ``directory``; return the paths written, relative."""
    target = directory / SUBDIRECTORY
    target.mkdir(mode=0o755, parents=True, exist_ok=True)
    files = {
        "main.tf.json": _json(aks_root_module(job)),
        "backend.tfbackend.json": _json(backend_settings(job)),
        "README.md": readme(job),
    }
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return [str(SUBDIRECTORY / name) for name in files]


def backend_settings(job: InfrastructureJob) -> dict[str, Any]:
    """The azurerm backend settings of the job's cluster (Entra ID auth for the state)."""
    location = state_location(provider_of(job), job.cluster.id)
    return {**location.backend_config(), "use_azuread_auth": True}


def _json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def readme(job: InfrastructureJob) -> str:
    """How to apply the exported module without qengine."""
    provider = provider_of(job)
    backend = backend_settings(job)
    lines = [
        f"# AKS cluster `{job.cluster.name}` ({job.cluster.id})",
        "",
        f"Terraform for the cluster of job `{job.id}`, as qengine applies it: plain "
        f"`hashicorp/azurerm` {AZURERM} resources, Terraform `{REQUIRED_TERRAFORM}`.",
        "",
        "## Apply it without qengine",
        "",
        f"1. Sign in as the application `{provider.client_id}` of tenant "
        f"`{provider.tenant_id}` (or as yourself with `az login`); it needs Contributor on "
        f"the subscription `{provider.subscription_id}` (or the cluster's resource group) "
        "and Storage Blob Data Contributor on the state account.",
        f"2. The state account `{backend['storage_account_name']}` and its container "
        f"`{backend['container_name']}` must exist (qengine makes them, with blob versioning "
        "and soft delete).",
        "3. Run:",
        "",
        "```console",
        "terraform init -backend-config=backend.tfbackend.json",
        "terraform plan -out plan.tfplan",
        "terraform apply plan.tfplan",
        "```",
        "",
        "Workload identity and the OIDC issuer are on; local accounts are off, so cluster",
        "access is through Microsoft Entra ID (`kubelogin`), with Azure RBAC.",
        "",
    ]
    return "\n".join(lines)
