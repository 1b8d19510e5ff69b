"""``qengine export`` of a GCP infrastructure job: the real root module, ready to apply.

Written under ``terraform/gcp/``: the root module (``main.tf.json``, the same data the engine
applies, never the sandbox stand-ins), the gcs backend settings, the variables' values and a
README on applying it with ``terraform`` alone. No credential is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qengine.spec import InfrastructureJob
from qengine_gcp.blueprint import gke_root_module, provider_of
from qengine_gcp.modules import GKE, NETWORK, pinned
from qengine_gcp.state_backend import default_bucket, state_prefix

SUBDIRECTORY = Path("terraform") / "gcp"


def export_job(job: InfrastructureJob, directory: Path) -> list[str]:
    """Write the job's Terraform under ``directory``; return the paths written, relative."""
    target = directory / SUBDIRECTORY
    target.mkdir(mode=0o755, parents=True, exist_ok=True)
    files = {
        "main.tf.json": _json(gke_root_module(job)),
        "backend.tfbackend.json": _json(backend_settings(job)),
        "terraform.tfvars.json": _json(_variables(job)),
        "README.md": readme(job),
    }
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return [str(SUBDIRECTORY / name) for name in files]


def backend_settings(job: InfrastructureJob) -> dict[str, Any]:
    """The gcs backend settings of the job's cluster."""
    provider = provider_of(job)
    return {
        "bucket": provider.state.bucket or default_bucket(provider.project),
        "prefix": state_prefix(job.cluster.id),
    }


def _variables(job: InfrastructureJob) -> dict[str, str]:
    provider = provider_of(job)
    return {
        "project_id": provider.project,
        "region": provider.region,
        "cluster_name": job.cluster.name,
        "kubernetes_version": job.cluster.kubernetes_version,
    }


def _json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def readme(job: InfrastructureJob) -> str:
    """How to apply the exported module without qengine."""
    provider = provider_of(job)
    network, gke = pinned(NETWORK), pinned(GKE)
    who = (
        f"impersonate `{provider.service_account}`"
        if provider.service_account
        else "use your workload identity federation credentials"
    )
    bucket = backend_settings(job)["bucket"]
    lines = [
        f"# GKE cluster `{job.cluster.name}` ({job.cluster.id})",
        "",
        f"Terraform for the cluster of job `{job.id}`, as qengine applies it: modules "
        f"`{network.source}` {network.version} and `{gke.source}` {gke.version}, google "
        f"provider `{gke.providers['google']['version']}`, Terraform "
        f"`{gke.required_terraform}`.",
        "",
        "## Apply it without qengine",
        "",
        f"1. Credentials: {who}, for example "
        "`export GOOGLE_OAUTH_ACCESS_TOKEN=$(gcloud auth print-access-token "
        "--impersonate-service-account=ACCOUNT)`. No credential is written in these files.",
        f"2. State: `backend.tfbackend.json` names the bucket `{bucket}`. qengine creates it "
        "(versioning on, uniform bucket-level access, public access prevention enforced"
        + (f", default key `{provider.state.kms_key}`" if provider.state.kms_key else "")
        + "); create it so first if you never ran qengine here.",
        "3. `terraform init -backend-config=backend.tfbackend.json`",
        "4. `terraform plan -out=plan.tfplan` (the values are in `terraform.tfvars.json`)",
        "5. `terraform apply plan.tfplan`",
        "",
        "The state bucket is not part of this module and is kept by `terraform destroy`.",
        "",
    ]
    return "\n".join(lines)
