"""The real-EKS tier: a whole cluster's life on real AWS. Off unless QENGINE_TEST_AWS=1 and
QENGINE_TEST_AWS_CLUSTER=1 (it takes about 40 minutes and costs about a dollar).

Needs the host's default AWS credentials (allowed to create VPCs, EKS clusters, IAM roles and
KMS keys), network access for Terraform, and a plugin cache directory
``QENGINE_TEST_TERRAFORM_CACHE`` (or a provider mirror ``QENGINE_TEST_TERRAFORM_MIRROR``). It
creates a cluster ``qengine-test-<random>`` in ``QENGINE_TEST_AWS_REGION`` (default
``eu-west-3``) with one t3.small node over two zones, deploys a container onto it, pauses and
resumes it, and deletes it, each step a job document run by ``Engine.run``; the state bucket
and lock table it made are removed at the end.
Everything is tagged ``qengine:test=<run id>`` for a manual clean-up if a run is interrupted.
This tier has not been run by the project's CI (no AWS account there).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qengine_aws.credentials import AwsAccess, CredentialRequest
from qengine_aws.token import cluster_access_of
from qengine_kubernetes.settings import KubeSettings

from qengine import Engine, load_plugins
from qengine.runner import JobResult, JobStatus, MemoryStateStore
from qengine.terraform import ProviderSources, TerraformSettings

pytestmark = pytest.mark.real_cloud

RUN = secrets.token_hex(4)
NAME = f"qengine-test-{RUN}"
REGION = os.environ.get("QENGINE_TEST_AWS_REGION", "eu-west-3")
BUCKET = f"qengine-test-state-{RUN}"
TABLE = f"qengine-test-locks-{RUN}"


def _sources() -> ProviderSources:
    mirror = os.environ.get("QENGINE_TEST_TERRAFORM_MIRROR")
    cache = os.environ.get("QENGINE_TEST_TERRAFORM_CACHE")
    if not (mirror or cache):
        pytest.fail("set QENGINE_TEST_TERRAFORM_CACHE (or _MIRROR) for the real-EKS tier")
    return ProviderSources(
        mirror_dir=Path(mirror) if mirror else None,
        plugin_cache_dir=Path(cache) if cache else None,
    )


def _document(action: str) -> dict[str, Any]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "InfrastructureJob",
        "id": f"{NAME}-{action}",
        "organization": {"id": "org-qengine-test"},
        "actor": {"id": "actor-qengine-test"},
        "action": action,
        "cluster": {
            "id": NAME,
            "name": NAME,
            "kubernetes_version": "1.32",
            "provider": {
                "kind": "aws",
                "region": REGION,
                "vpc_cidr": "10.77.0.0/16",
                "availability_zones": 2,
                "node_groups": [
                    {
                        "name": "general",
                        "instance_types": ["t3.small"],
                        "min_size": 1,
                        "max_size": 1,
                    }
                ],
                "state": {"bucket": BUCKET, "lock_table": TABLE},
                "tags": {"qengine:test": RUN},
            },
        },
    }


def _run(engine: Engine, action: str) -> JobResult:
    result = engine.run(_document(action))
    assert result.status is JobStatus.SUCCEEDED, result.error
    return result


@pytest.fixture(scope="module")
def access() -> Iterator[AwsAccess]:
    if os.environ.get("QENGINE_TEST_AWS_CLUSTER") != "1":
        pytest.skip("the real-EKS tier also needs QENGINE_TEST_AWS_CLUSTER=1")
    request = CredentialRequest(region=REGION, job_id=f"test-{RUN}", organization_id="org-test")
    real = AwsAccess(request, open_secret=None)
    yield real
    _remove_state(real)


def _remove_state(real: AwsAccess) -> None:
    s3 = real.client("s3")
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET)
    for page in pages:
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            s3.delete_object(Bucket=BUCKET, Key=item["Key"], VersionId=item["VersionId"])
    s3.delete_bucket(Bucket=BUCKET)
    real.client("dynamodb").delete_table(TableName=TABLE)


def _desired_sizes(real: AwsAccess) -> list[int]:
    eks = real.client("eks")
    names = eks.list_nodegroups(clusterName=NAME)["nodegroups"]
    return [
        eks.describe_nodegroup(clusterName=NAME, nodegroupName=name)["nodegroup"]["scalingConfig"][
            "desiredSize"
        ]
        for name in names
    ]


def test_a_cluster_is_created_used_paused_resumed_and_deleted(access: AwsAccess) -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    terraform = TerraformSettings(sources=_sources())
    engine = Engine(plugins, store=MemoryStateStore(), settings={"terraform": terraform})
    try:
        created = _run(engine, "create")
        cluster = cluster_access_of(access, created.outputs["aws.apply"])
        assert cluster.endpoint.startswith("https://")
        kube = KubeSettings(endpoint=cluster.endpoint, ca_pem=cluster.ca_pem, token=cluster.token())
        kubernetes = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
        deployed = Engine(kubernetes, store=MemoryStateStore(), settings={"kubernetes": kube}).run(
            _environment()
        )
        assert deployed.status is JobStatus.SUCCEEDED, deployed.error
        _run(engine, "pause")
        assert _desired_sizes(access) == [0]
        _run(engine, "resume")
        assert _desired_sizes(access) == [1]
    finally:
        _run(engine, "delete")
    assert NAME not in access.client("eks").list_clusters()["clusters"]


def _environment() -> dict[str, Any]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": f"{NAME}-env",
        "organization": {"id": "org-qengine-test"},
        "actor": {"id": "actor-qengine-test"},
        "action": "deploy",
        "target": {"kind": "kubeconfig"},
        "environment": {
            "id": f"{NAME}-env",
            "name": "smoke",
            "services": [
                {
                    "kind": "container",
                    "name": "web",
                    "image": "public.ecr.aws/nginx/nginx",
                    "tag": "1.27",
                    "ports": [{"port": 80}],
                }
            ],
        },
    }
