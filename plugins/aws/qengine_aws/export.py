"""``qengine export`` of an AWS infrastructure job: the real root module, ready to apply.

Written under ``terraform/aws/``: the root module (``main.tf.json``, the same data the engine
applies, never the sandbox stand-ins), the S3 backend settings, the variables' values and a
README on applying it with ``terraform`` alone. No credential is written: the module takes
them from the usual AWS environment of whoever runs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qengine.spec import InfrastructureJob
from qengine_aws.blueprint import eks_root_module, provider_of
from qengine_aws.modules import EKS, VPC, pinned
from qengine_aws.state_backend import STATE_KEY_ALIAS, state_key

SUBDIRECTORY = Path("terraform") / "aws"
ACCOUNT_PLACEHOLDER = "ACCOUNT_ID"


def export_job(job: InfrastructureJob, directory: Path) -> list[str]:
    """Write the job's Terraform under ``directory``; return the paths written, relative."""
    target = directory / SUBDIRECTORY
    target.mkdir(mode=0o755, parents=True, exist_ok=True)
    files = {
        "main.tf.json": _json(eks_root_module(job)),
        "backend.tfbackend.json": _json(backend_settings(job)),
        "terraform.tfvars.json": _json(_variables(job)),
        "README.md": readme(job),
    }
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return [str(SUBDIRECTORY / name) for name in files]


def backend_settings(job: InfrastructureJob) -> dict[str, Any]:
    """The backend settings, with ``ACCOUNT_ID`` in the default bucket name."""
    provider = provider_of(job)
    state = provider.state
    bucket = state.bucket or f"qengine-state-{ACCOUNT_PLACEHOLDER}-{provider.region}"
    settings: dict[str, Any] = {
        "bucket": bucket,
        "key": state_key(job.cluster.id),
        "region": provider.region,
        "dynamodb_table": state.lock_table,
        "encrypt": True,
    }
    if state.kms_key_arn:
        settings["kms_key_id"] = state.kms_key_arn
    return settings


def _variables(job: InfrastructureJob) -> dict[str, str]:
    return {
        "region": provider_of(job).region,
        "cluster_name": job.cluster.name,
        "kubernetes_version": job.cluster.kubernetes_version,
    }


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def readme(job: InfrastructureJob) -> str:
    """How to apply the exported module without qengine."""
    provider = provider_of(job)
    vpc, eks = pinned(VPC), pinned(EKS)
    role = (
        f"assume `{provider.role_arn}` (with its external id) first"
        if provider.role_arn
        else "use the credentials you normally use for this account"
    )
    lines = [
        f"# EKS cluster `{job.cluster.name}` ({job.cluster.id})",
        "",
        f"Terraform for the cluster of job `{job.id}`, as qengine applies it: modules "
        f"`{vpc.source}` {vpc.version} and `{eks.source}` {eks.version}, AWS provider "
        "`>= 6.28`, Terraform `>= 1.5.7`.",
        "",
        "## Apply it without qengine",
        "",
        f"1. Credentials: {role}; export them as `AWS_ACCESS_KEY_ID`, "
        "`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (or use a profile). No credential is "
        "written in these files.",
        "2. State: `backend.tfbackend.json` names the S3 bucket and DynamoDB lock table qengine "
        f"uses. If the bucket name holds `{ACCOUNT_PLACEHOLDER}`, replace it with your account "
        "id. qengine creates the bucket (versioned, SSE-KMS with the key "
        f"`{STATE_KEY_ALIAS}`, public access blocked, TLS only) and the table (hash key "
        "`LockID`, on demand); create them first if you never ran qengine here, and add "
        '`"kms_key_id": "<key ARN>"` to the backend settings.',
        "3. `terraform init -backend-config=backend.tfbackend.json`",
        "4. `terraform plan -out=plan.tfplan` (the values are in `terraform.tfvars.json`)",
        "5. `terraform apply plan.tfplan`",
        "",
        "Deleting: before `terraform destroy`, delete the load balancers (and their security "
        "groups) that Kubernetes created in the VPC, or the VPC cannot be deleted. The state "
        "bucket is not part of this module and is kept.",
        "",
    ]
    return "\n".join(lines)
