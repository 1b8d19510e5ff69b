"""The ``aws`` cloud provider's InfraEngine as the engine drives it: ``Engine.run`` of job
documents in sandbox mode (moto, the Kubernetes simulator and the real terraform), with the
plugin's settings given to the engine."""

from __future__ import annotations

import copy
import json
import ssl
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from aws_support import ACCOUNT, EXAMPLE, REGION, client, secrets_of
from qengine_aws.credentials import AwsAccess, CredentialRequest
from qengine_aws.infra_engine import AwsInfraEngine
from qengine_aws.sandbox import SANDBOX_CREDENTIALS, sandbox_cluster
from qengine_aws.settings import AwsSettings
from qengine_aws.state_backend import default_bucket, state_key
from qengine_aws.token import cluster_access_of, decode_token

from qengine import Engine, load_plugins
from qengine.plugin import CancelToken, InfraEngine, SandboxCluster
from qengine.runner import JobResult, JobStatus, MemoryStateStore
from qengine.spec import InfrastructureJob

EXTERNAL_ID = "infra-engine-external-id-8c2f"
SECRETS = {"aws_external_id": EXTERNAL_ID}

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster() -> Iterator[SandboxCluster]:
    with sandbox_cluster(readiness_delay=0.05) as started:
        yield started


@pytest.fixture
def sandbox(moto: str, cluster: SandboxCluster) -> Iterator[AwsSettings]:
    from qengine.testing.tcp_relay import TcpRelay

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


def _document(action: str = "create", number: int = 1, **cluster: Any) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document["action"] = action
    document["id"] = f"eks-prod-{action}-{number:04d}"  # a job id names one run
    document["cluster"].update(cluster)
    document["cluster"]["provider"]["state"] = {}
    return document


def _engine(settings: AwsSettings) -> Engine:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    return Engine(plugins, store=MemoryStateStore(), settings={"aws": settings})


def _run(engine: Engine, document: dict[str, Any], **options: Any) -> JobResult:
    return engine.run(document, sandbox_secrets=SECRETS, **options)


def _ok(result: JobResult) -> JobResult:
    assert result.status is JobStatus.SUCCEEDED, result.error
    return result


def _node_group(settings: AwsSettings) -> dict[str, Any]:
    body = client(settings, "s3").get_object(
        Bucket=default_bucket(ACCOUNT, REGION), Key=state_key("cluster-prod-eu")
    )["Body"]
    for resource in json.loads(body.read())["resources"]:
        if resource["name"] == "node_group_general":
            found: dict[str, Any] = resource["instances"][0]["attributes"]["input"]["value"]
            return found
    raise AssertionError("no node group in the state")


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


def test_the_registered_factory_builds_an_engine_whose_methods_plan_their_action(
    cluster: SandboxCluster,
) -> None:
    # No moto at all: a factory or a plan that sent a request would fail to connect.
    engine = _engine(_settings("http://127.0.0.1:9", cluster))
    services = engine.accept(_document(), sandbox_secrets=SECRETS, consume=False).services
    infra = services.infra_engine()
    assert isinstance(infra, AwsInfraEngine)
    assert isinstance(infra, InfraEngine)
    job = services.job
    assert isinstance(job, InfrastructureJob)
    first = ["aws.preflight", "aws.state-backend"]
    # Each method plans its own action whatever the job's says (the job is a create).
    created = [s.id for s in infra.create(job)]
    assert created[:3] == [*first, "aws.apply"]
    assert created[3] == "addons.crds"  # then the add-on stack (docs/addons.md)
    assert [s.id for s in infra.pause(job)] == [
        *first,
        "aws.save-node-group-sizes",
        "aws.scale-node-groups",
        "aws.apply",
    ]
    assert [s.id for s in infra.resume(job)][-1] == "aws.forget-node-group-sizes"
    upgraded = [s.id for s in infra.upgrade(job)]
    assert upgraded[upgraded.index("aws.upgrade-node-groups") + 1] == "addons.crds"
    assert [s.id for s in infra.delete(job)][-1] == "aws.destroy"
    assert [s.id for s in infra.plan(job)] == [s.id for s in infra.create(job)]


def test_create_outputs_access_to_the_simulator_and_an_eks_token(
    sandbox: AwsSettings, cluster: SandboxCluster
) -> None:
    result = _ok(_run(_engine(sandbox), _document()))
    outputs = result.outputs["aws.apply"]
    assert outputs["endpoint"] == cluster.endpoint
    assert outputs["endpoint"].startswith("https://127.0.0.1:")
    assert outputs["cluster_name"] == "prod-eu"
    assert outputs["oidc_issuer_url"] == f"{cluster.endpoint}/id/cluster-prod-eu"
    assert cluster.token not in json.dumps(result.to_json(), default=str)
    # A host turns the outputs into a ClusterAccess with an EKS token of the job's identity.
    job = _engine(sandbox).plugins.loader.load(_document())
    assert isinstance(job, InfrastructureJob)
    aws = AwsAccess(CredentialRequest.of(job), open_secret=secrets_of(SECRETS), settings=sandbox)
    access = cluster_access_of(aws, outputs)
    assert access.ca_pem == cluster.ca_pem
    assert access.extra["cluster_name"] == "prod-eu"
    assert access.extra["oidc_issuer_url"] == outputs["oidc_issuer_url"]
    token = access.token()
    assert token.startswith("k8s-aws-v1.")
    assert "GetCallerIdentity" in decode_token(token)
    assert token not in repr(access)
    # The CA verifies the simulator's certificate: the outputs name a server that answers.
    tls = ssl.create_default_context(cadata=access.ca_pem)
    with urllib.request.urlopen(f"{access.endpoint}/version", context=tls, timeout=10) as reply:
        assert json.loads(reply.read())["major"] == "1"


def test_pause_resume_and_delete(sandbox: AwsSettings) -> None:
    engine = _engine(sandbox)
    _ok(_run(engine, _document()))
    assert _eks_general(sandbox) == (2, 6, 3)
    _ok(_run(engine, _document("pause")))
    assert (_node_group(sandbox)["min_size"], _node_group(sandbox)["desired_size"]) == (0, 0)
    assert _eks_general(sandbox) == (0, 6, 0)
    # Pausing a paused cluster keeps the saved sizes.
    _ok(_run(engine, _document("pause", 2)))
    resumed = _ok(_run(engine, _document("resume")))
    assert resumed.outputs["aws.apply"]["cluster_name"] == "prod-eu"
    assert resumed.outputs["aws.apply"]["endpoint"].startswith("https://127.0.0.1:")
    assert _node_group(sandbox)["desired_size"] == 3
    assert _eks_general(sandbox) == (2, 6, 3)
    _ok(_run(engine, _document("delete")))
    with pytest.raises(AssertionError, match="no node group"):
        _node_group(sandbox)
    with pytest.raises(AssertionError, match="EKS holds no"):
        _eks_general(sandbox)


def test_resume_restores_a_grown_node_group_clamped_to_the_jobs_maximum(
    sandbox: AwsSettings,
) -> None:
    engine = _engine(sandbox)
    _ok(_run(engine, _document()))
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
    _ok(_run(engine, _document("pause")))
    assert _eks_general(sandbox) == (0, 6, 0)
    _ok(_run(engine, _document("resume")))
    assert _eks_general(sandbox) == (2, 6, 6)


def test_upgrade_one_minor_version_and_a_skip_is_refused_with_its_class_and_hint(
    sandbox: AwsSettings,
) -> None:
    engine = _engine(sandbox)
    _ok(_run(engine, _document(kubernetes_version="1.30")))
    refused = _run(engine, _document("upgrade", kubernetes_version="1.32"))
    assert refused.status is JobStatus.FAILED
    error = refused.outcome("aws.upgrade-control-plane").error
    assert error is not None
    assert error.kind == "InvalidInputError"
    assert "skips a minor version" in error.message
    assert error.hint
    upgraded = _ok(_run(engine, _document("upgrade", 2, kubernetes_version="1.31")))
    assert upgraded.outputs["aws.upgrade-node-groups"]["cluster_version"] == "1.31"
    assert upgraded.outputs["aws.upgrade-node-groups"]["cluster_name"] == "prod-eu"


def test_the_plan_lists_the_steps_and_their_changes_and_sends_nothing(
    cluster: SandboxCluster,
) -> None:
    # No moto at all: a plan that sent a request would fail to connect.
    engine = _engine(_settings("http://127.0.0.1:9", cluster))
    plan = engine.plan(engine.accept(_document("delete"), sandbox_secrets=SECRETS, consume=False))
    assert [step.id for step in plan.steps] == [
        "aws.preflight",
        "aws.state-backend",
        "aws.cleanup-load-balancers",
        "aws.destroy",
    ]
    destroy = plan.step("aws.destroy")
    assert [change.describe() for change in destroy.changes] == ["delete eks-cluster prod-eu"]


def test_refused_credentials_are_the_steps_auth_error_with_its_hint(
    auth_enforced: str, cluster: SandboxCluster
) -> None:
    result = _run(_engine(_settings(auth_enforced, cluster)), _document())
    assert result.status is JobStatus.FAILED
    error = result.outcome("aws.preflight").error
    assert error is not None
    assert error.kind == "AuthError"
    assert "role_arn" in error.hint
    assert EXTERNAL_ID not in error.message + error.hint
    assert SANDBOX_CREDENTIALS[1] not in error.message + error.hint


def test_a_cancelled_token_stops_before_the_first_step(sandbox: AwsSettings) -> None:
    token = CancelToken()
    token.cancel("stop")
    result = _run(_engine(sandbox), _document(), cancel=token)
    assert result.status is JobStatus.CANCELLED
    assert {o.status.value for o in result.steps} == {"cancelled"}
    with pytest.raises(Exception, match=r"Not Found|404"):
        client(sandbox, "s3").head_bucket(Bucket=default_bucket(ACCOUNT, REGION))
