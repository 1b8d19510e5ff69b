"""The ``aws`` cloud provider's InfraEngine, in sandbox mode: moto, the Kubernetes simulator
and the real terraform, driven without the runner."""

from __future__ import annotations

import copy
import json
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_support import ACCOUNT, REGION, client
from qengine_aws.infra_engine import AwsCloudProvider
from qengine_aws.sandbox import SANDBOX_CREDENTIALS, sandbox_cluster
from qengine_aws.settings import AwsSettings, SandboxCluster
from qengine_aws.spec import AwsProvider
from qengine_aws.state_backend import default_bucket, state_key
from qengine_aws.token import decode_token

from qengine import load_plugins
from qengine._errors import CancelledError, InvalidInputError, SecretError
from qengine.interfaces import CloudProvider, InfraEngine
from qengine.interfaces.cancel import CancelToken
from qengine.secrets.value import SecretValue
from qengine.spec import InfrastructureJob
from qengine.testing.tcp_relay import TcpRelay

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"
EXTERNAL_ID = "infra-engine-external-id-8c2f"

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster() -> Iterator[SandboxCluster]:
    with sandbox_cluster(readiness_delay=0.05) as started:
        yield started


@pytest.fixture
def sandbox(moto: str, cluster: SandboxCluster) -> Iterator[AwsSettings]:
    # Behind the project's TCP relay, as the sandbox puts moto for Terraform's lock calls.
    with TcpRelay(int(moto.rsplit(":", 1)[1])) as relay:
        yield _settings(relay.url, cluster)


def _settings(endpoint: str, cluster: SandboxCluster) -> AwsSettings:
    return AwsSettings(
        endpoint_url=endpoint,
        sandbox=cluster,
        sandbox_credentials=SANDBOX_CREDENTIALS,
        poll_interval=0.05,
    )


def _job(action: str = "create", **cluster: Any) -> InfrastructureJob:
    document = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document["action"] = action
    document["cluster"].update(cluster)
    document["cluster"]["provider"]["state"] = {}
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _open(name: str) -> SecretValue:
    return SecretValue({"aws_external_id": EXTERNAL_ID}[name])


def _engine(settings: AwsSettings, job: InfrastructureJob) -> InfraEngine:
    return AwsCloudProvider(settings=settings, open_secret=_open).infra_engine(job)


def _node_group(settings: AwsSettings) -> dict[str, Any]:
    body = client(settings, "s3").get_object(
        Bucket=default_bucket(ACCOUNT, REGION), Key=state_key("cluster-prod-eu")
    )["Body"]
    for resource in json.loads(body.read())["resources"]:
        if resource["name"] == "node_group_general":
            found: dict[str, Any] = resource["instances"][0]["attributes"]["input"]["value"]
            return found
    raise AssertionError("no node group in the state")


def test_the_registered_factory_builds_a_cloud_provider() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    provider = plugins.registry.get(AwsProvider.family, "aws").factory()
    assert isinstance(provider, CloudProvider)
    assert provider.kind == "aws"
    assert isinstance(provider.infra_engine(_job()), InfraEngine)


def test_create_returns_access_to_the_simulator_with_an_eks_token(
    sandbox: AwsSettings, cluster: SandboxCluster
) -> None:
    access = _engine(sandbox, _job()).create(_job(), CancelToken())
    assert access.endpoint == cluster.endpoint
    assert access.endpoint.startswith("https://127.0.0.1:")
    assert access.ca_pem == cluster.ca_pem
    assert access.extra["cluster_name"] == "prod-eu"
    assert access.extra["oidc_issuer_url"] == f"{cluster.endpoint}/id/cluster-prod-eu"
    token = access.token()
    assert token.startswith("k8s-aws-v1.")
    assert "GetCallerIdentity" in decode_token(token)
    assert token not in repr(access)
    # The CA verifies the simulator's certificate: the outputs name a server that answers.
    tls = ssl.create_default_context(cadata=access.ca_pem)
    with urllib.request.urlopen(f"{access.endpoint}/version", context=tls, timeout=10) as reply:
        assert json.loads(reply.read())["major"] == "1"


def _eks_general(settings: AwsSettings) -> tuple[int, int, int]:
    """The general node group as moto's EKS holds it: (min, max, desired)."""
    eks = client(settings, "eks")
    # moto answers 500 to ListNodegroups of a missing cluster: ask for the cluster first.
    names = (
        eks.list_nodegroups(clusterName="prod-eu")["nodegroups"]
        if "prod-eu" in eks.list_clusters()["clusters"]
        else []
    )
    for name in names:
        group = eks.describe_nodegroup(clusterName="prod-eu", nodegroupName=name)["nodegroup"]
        if group["labels"]["qengine.dev/node-group"] == "general":
            config = group["scalingConfig"]
            return (config["minSize"], config["maxSize"], config["desiredSize"])
    raise AssertionError("EKS holds no general node group")


def test_pause_resume_and_delete(sandbox: AwsSettings) -> None:
    engine = _engine(sandbox, _job())
    engine.create(_job(), CancelToken())
    assert _eks_general(sandbox) == (2, 6, 3)
    engine.pause(_job(), CancelToken())
    assert (_node_group(sandbox)["min_size"], _node_group(sandbox)["desired_size"]) == (0, 0)
    assert _eks_general(sandbox) == (0, 6, 0)
    engine.pause(_job(), CancelToken())  # pausing a paused cluster keeps the saved sizes
    resumed = engine.resume(_job(), CancelToken())
    assert resumed.extra["cluster_name"] == "prod-eu"
    assert resumed.endpoint.startswith("https://127.0.0.1:")
    assert _node_group(sandbox)["desired_size"] == 3
    assert _eks_general(sandbox) == (2, 6, 3)
    engine.delete(_job(), CancelToken())
    with pytest.raises(AssertionError, match="no node group"):
        _node_group(sandbox)
    with pytest.raises(AssertionError, match="EKS holds no"):
        _eks_general(sandbox)


def test_resume_restores_a_grown_node_group_clamped_to_the_jobs_maximum(
    sandbox: AwsSettings,
) -> None:
    engine = _engine(sandbox, _job())
    engine.create(_job(), CancelToken())
    eks = client(sandbox, "eks")
    for name in eks.list_nodegroups(clusterName="prod-eu")["nodegroups"]:
        if name.startswith("general-"):  # a cluster autoscaler grew it past the job's maximum
            eks.update_nodegroup_config(
                clusterName="prod-eu",
                nodegroupName=name,
                scalingConfig={"maxSize": 9, "desiredSize": 8},
            )
    # Scaled to zero before the apply, so the apply may bring max back to 6 (EKS would refuse
    # a max below 8 nodes otherwise).
    engine.pause(_job(), CancelToken())
    assert _eks_general(sandbox) == (0, 6, 0)
    engine.resume(_job(), CancelToken())
    assert _eks_general(sandbox) == (2, 6, 6)


def test_upgrade_one_minor_version(sandbox: AwsSettings) -> None:
    engine = _engine(sandbox, _job())
    engine.create(_job(kubernetes_version="1.30"), CancelToken())
    with pytest.raises(InvalidInputError, match="skips a minor version"):
        engine.upgrade(_job("upgrade", kubernetes_version="1.32"), CancelToken())
    access = engine.upgrade(_job("upgrade", kubernetes_version="1.31"), CancelToken())
    assert access.extra["cluster_name"] == "prod-eu"


def test_plan_lists_the_steps_and_sends_nothing(cluster: SandboxCluster) -> None:
    # No moto at all: a plan that sent a request would fail to connect.
    settings = AwsSettings(endpoint_url="http://127.0.0.1:9", sandbox=cluster)
    plan = _engine(settings, _job()).plan(_job("delete"), CancelToken())
    assert list(plan) == [
        "aws.preflight",
        "aws.state-backend",
        "aws.cleanup-load-balancers",
        "aws.destroy",
    ]
    assert "delete eks-cluster prod-eu" in plan["aws.destroy"]


def test_a_step_error_is_raised_as_the_step_raised_it(sandbox: AwsSettings) -> None:
    engine = AwsCloudProvider(settings=sandbox).infra_engine(_job())
    with pytest.raises(SecretError, match="aws_external_id"):
        engine.create(_job(), CancelToken())


def test_a_cancelled_token_stops_before_the_first_step(sandbox: AwsSettings) -> None:
    token = CancelToken()
    token.cancel("stop")
    with pytest.raises(CancelledError):
        _engine(sandbox, _job()).create(_job(), token)
    with pytest.raises(Exception, match=r"Not Found|404"):
        client(sandbox, "s3").head_bucket(Bucket=default_bucket(ACCOUNT, REGION))
