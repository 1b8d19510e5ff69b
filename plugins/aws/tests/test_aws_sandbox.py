"""Actions end to end in the sandbox: real terraform, stand-in blueprint, state on moto.

Each test runs the plugin's steps through the runner's Executor, the way the engine does,
with settings pointing every AWS call at moto and the blueprint's cloud resources replaced by
``terraform_data`` stand-ins.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from aws_support import ACCOUNT, REGION
from qengine_aws.actions import AwsJob, steps_for
from qengine_aws.sandbox import PLACEHOLDER_CLUSTER, SANDBOX_CREDENTIALS
from qengine_aws.sandbox_eks import STAND_IN
from qengine_aws.saved_sizes import saved_sizes_key
from qengine_aws.settings import AwsSettings
from qengine_aws.state_backend import default_bucket, state_key
from qengine_aws.token import cluster_access

from qengine import Event, load_plugins
from qengine.plugin import SandboxCluster
from qengine.runner import Executor, JobRef, JobResult, JobStatus, Plan, Step
from qengine.runner.memory import MemoryStateStore
from qengine.runner.sinks import CallbackSink
from qengine.secrets.value import SecretValue
from qengine.spec import InfrastructureJob
from qengine.testing.tcp_relay import TcpRelay

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"
CA = "-----BEGIN CERTIFICATE-----\nMIIBsandbox\n-----END CERTIFICATE-----\n"
EXTERNAL_ID = "sandbox-external-id-5d1e"

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox(moto: str) -> Iterator[AwsSettings]:
    # Behind the project's TCP relay, as the sandbox puts moto for Terraform's lock calls.
    with TcpRelay(int(moto.rsplit(":", 1)[1])) as relay:
        yield _settings(relay.url)


def _settings(endpoint: str) -> AwsSettings:
    return AwsSettings(
        endpoint_url=endpoint,
        sandbox=SandboxCluster(endpoint="https://127.0.0.1:6443", ca_pem=CA, token=""),
        sandbox_credentials=SANDBOX_CREDENTIALS,
        poll_interval=0.05,
    )


def _job(action: str = "create", **cluster: Any) -> InfrastructureJob:
    document = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document["action"] = action
    # These tests are about the cluster; its add-ons are the stack's own tests'
    # (plugins/addons, test_aws_sandbox_addons.py), and no cluster answers here.
    document["cluster"]["addons"] = {"manage": False}
    document["cluster"].update(cluster)
    document["cluster"]["provider"]["state"] = {}
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _open(name: str) -> SecretValue:
    return SecretValue({"aws_external_id": EXTERNAL_ID}[name])


def _run(
    job: InfrastructureJob,
    settings: AwsSettings,
    events: list[Event] | None = None,
    *,
    steps: list[Step] | None = None,
) -> JobResult:
    steps = steps if steps is not None else steps_for(AwsJob.of(job, _open, settings))
    ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id=job.cluster.id)
    sinks = [CallbackSink(events.append)] if events is not None else []
    return Executor().run(Plan(steps), ref, sinks=sinks)


def _eks_sizes(settings: AwsSettings) -> dict[str, tuple[int, int, int]]:
    """The node groups moto's EKS holds, by label: (min, max, desired)."""
    from aws_support import client

    eks = client(settings, "eks")
    found = {}
    for name in eks.list_nodegroups(clusterName="prod-eu")["nodegroups"]:
        group = eks.describe_nodegroup(clusterName="prod-eu", nodegroupName=name)["nodegroup"]
        config = group["scalingConfig"]
        label = group["labels"]["qengine.dev/node-group"]
        found[label] = (config["minSize"], config["maxSize"], config["desiredSize"])
    return found


def _grow(settings: AwsSettings, label: str, desired: int) -> None:
    """Change a node group's desired size behind Terraform's back, as a cluster autoscaler does."""
    from aws_support import client

    eks = client(settings, "eks")
    for name in eks.list_nodegroups(clusterName="prod-eu")["nodegroups"]:
        group = eks.describe_nodegroup(clusterName="prod-eu", nodegroupName=name)["nodegroup"]
        if group["labels"]["qengine.dev/node-group"] == label:
            eks.update_nodegroup_config(
                clusterName="prod-eu", nodegroupName=name, scalingConfig={"desiredSize": desired}
            )


def _saved(settings: AwsSettings) -> dict[str, Any] | None:
    from aws_support import client

    s3 = client(settings, "s3")
    key = saved_sizes_key("cluster-prod-eu")
    listed = s3.list_objects_v2(Bucket=default_bucket(ACCOUNT, REGION), Prefix=key)
    if not listed.get("KeyCount"):
        return None
    body = s3.get_object(Bucket=default_bucket(ACCOUNT, REGION), Key=key)["Body"]
    saved: dict[str, Any] = json.loads(body.read())["node_groups"]
    return saved


def _state(settings: AwsSettings) -> dict[str, Any]:
    from aws_support import client

    body = client(settings, "s3").get_object(
        Bucket=default_bucket(ACCOUNT, REGION), Key=state_key("cluster-prod-eu")
    )["Body"]
    state: dict[str, Any] = json.loads(body.read())
    return state


def _inputs(state: dict[str, Any]) -> dict[str, Any]:
    return {
        r["name"]: r["instances"][0]["attributes"]["input"]["value"]
        for r in state["resources"]
        if r["type"] == "terraform_data"
    }


def _ok(result: JobResult) -> JobResult:
    assert result.status is JobStatus.SUCCEEDED, result.error
    return result


def test_create_applies_the_stand_ins_with_state_on_moto(sandbox: AwsSettings) -> None:
    result = _ok(_run(_job(), sandbox))
    outputs = result.outputs["aws.apply"]
    assert outputs["endpoint"] == "https://127.0.0.1:6443"
    assert outputs["cluster_name"] == "prod-eu"
    assert outputs["cluster_version"] == "1.32"
    import base64

    assert base64.b64decode(outputs["certificate_authority"]).decode() == CA
    inputs = _inputs(_state(sandbox))
    assert inputs["node_group_general"]["desired_size"] == 3
    assert inputs["vpc"]["private_subnets"] == ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"]
    assert result.outputs["aws.preflight"]["arn"].endswith("/qengine-eks-prod-create-0001")


def test_the_apply_outputs_make_a_cluster_access_with_a_token(sandbox: AwsSettings) -> None:
    job = _job()
    aws = AwsJob.of(job, _open, sandbox)
    ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id=job.cluster.id)
    outputs = _ok(Executor().run(Plan(steps_for(aws)), ref)).outputs["aws.apply"]
    access = cluster_access(
        aws.access,
        endpoint=outputs["endpoint"],
        ca_base64=outputs["certificate_authority"],
        cluster_name=outputs["cluster_name"],
    )
    assert access.endpoint == "https://127.0.0.1:6443"
    assert access.ca_pem == CA
    assert access.token().startswith("k8s-aws-v1.")


def test_a_second_create_changes_nothing(sandbox: AwsSettings) -> None:
    _ok(_run(_job(), sandbox))
    serial = _state(sandbox)["serial"]
    _ok(_run(_job(), sandbox))
    assert _state(sandbox)["serial"] == serial


def test_pause_scales_to_zero_and_resume_restores(sandbox: AwsSettings) -> None:
    events: list[Event] = []
    _ok(_run(_job(), sandbox, events))
    assert _eks_sizes(sandbox) == {"general": (2, 6, 3), "spot": (0, 10, 0)}
    assert any(e.message.startswith(STAND_IN) for e in events if e.step_id == "aws.apply")
    result = _ok(_run(_job("pause"), sandbox))
    paused = _inputs(_state(sandbox))["node_group_general"]
    assert (paused["min_size"], paused["desired_size"], paused["max_size"]) == (0, 0, 6)
    assert _eks_sizes(sandbox) == {"general": (0, 6, 0), "spot": (0, 10, 0)}
    assert result.outputs["aws.scale-node-groups"]["general.desired"] == "0"
    assert _saved(sandbox) == {
        "general": {"min_size": 2, "max_size": 6, "desired_size": 3},
        "spot": {"min_size": 0, "max_size": 10, "desired_size": 0},
    }
    _ok(_run(_job("resume"), sandbox))
    resumed = _inputs(_state(sandbox))["node_group_general"]
    assert (resumed["min_size"], resumed["desired_size"]) == (2, 3)
    assert _eks_sizes(sandbox) == {"general": (2, 6, 3), "spot": (0, 10, 0)}
    assert _saved(sandbox) is None


def _with_autoscaler(action: str) -> InfrastructureJob:
    """The example with cluster-autoscaler (and no other add-on) on its node groups."""
    addons = {"autoscaler": True, "cert_manager": False, "ingress": False, "metrics_server": False}
    return _job(action, addons=addons)


def _cluster_steps(job: InfrastructureJob, settings: AwsSettings) -> list[Step]:
    """The job's steps but the add-ons' (no cluster answers here)."""
    steps = steps_for(AwsJob.of(job, _open, settings))
    return [step for step in steps if not step.id.startswith("addons.")]


def test_an_autoscaler_that_grows_a_group_during_the_pause_is_undone_and_disarmed(
    sandbox: AwsSettings,
) -> None:
    """The pause's apply takes resizing away from cluster-autoscaler's role and scales to zero
    once more: an autoscaler that gave a node group nodes back during the drain (here, a step
    between the scale and the apply) leaves the cluster paused; resume gives resizing back."""
    job = _with_autoscaler("create")
    _ok(_run(job, sandbox, steps=_cluster_steps(job, sandbox)))
    role = _inputs(_state(sandbox))["cluster_autoscaler_role"]
    assert role["scale_actions"] == [
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    assert role["scale_condition"] == "aws:ResourceTag/k8s.io/cluster-autoscaler/prod-eu=owned"
    assert _inputs(_state(sandbox))["node_group_general"]["tags"] == {
        "k8s.io/cluster-autoscaler/enabled": "true",
        "k8s.io/cluster-autoscaler/prod-eu": "owned",
    }

    def autoscaler(ctx: Any) -> dict[str, str]:
        _grow(sandbox, "general", 4)  # pending pods of the drained nodes
        return {}

    pause = _with_autoscaler("pause")
    steps = _cluster_steps(pause, sandbox)
    steps.insert(
        [s.id for s in steps].index("aws.apply"),
        Step(id="autoscaler", run=autoscaler, depends_on=("aws.scale-node-groups",)),
    )
    steps = [
        attrs.evolve(s, depends_on=(*s.depends_on, "autoscaler")) if s.id == "aws.apply" else s
        for s in steps
    ]
    _ok(_run(pause, sandbox, steps=steps))
    assert _eks_sizes(sandbox) == {"general": (0, 6, 0), "spot": (0, 10, 0)}
    assert _inputs(_state(sandbox))["cluster_autoscaler_role"]["scale_actions"] == []

    resume = _with_autoscaler("resume")
    _ok(_run(resume, sandbox, steps=_cluster_steps(resume, sandbox)))
    assert _eks_sizes(sandbox) == {"general": (2, 6, 3), "spot": (0, 10, 0)}
    assert (
        _inputs(_state(sandbox))["cluster_autoscaler_role"]["scale_actions"]
        == role["scale_actions"]
    )


def test_resume_gives_back_what_the_node_groups_had_grown_to(sandbox: AwsSettings) -> None:
    _ok(_run(_job(), sandbox))
    _grow(sandbox, "general", 5)
    _ok(_run(_job("pause"), sandbox))
    # A second pause (another job) sees zeros but keeps the sizes the first one saved.
    _ok(_run(_job("pause"), sandbox))
    assert _eks_sizes(sandbox)["general"] == (0, 6, 0)
    saved = _saved(sandbox)
    assert saved is not None
    assert saved["general"]["desired_size"] == 5
    result = _ok(_run(_job("resume"), sandbox))
    assert _eks_sizes(sandbox)["general"] == (2, 6, 5)
    assert result.outputs["aws.forget-node-group-sizes"]["general.desired"] == "5"
    assert _saved(sandbox) is None


def _stale_lock(settings: AwsSettings, *, present: bool) -> None:
    """A Terraform state lock left by a run that died (or its removal, as force-unlock does)."""
    from aws_support import client

    table = client(settings, "dynamodb")
    lock_id = f"{default_bucket(ACCOUNT, REGION)}/{state_key('cluster-prod-eu')}"
    if not present:
        table.delete_item(TableName="qengine-terraform-locks", Key={"LockID": {"S": lock_id}})
        return
    info = {
        "ID": "0b1c7d3e-0000-4000-8000-000000000001",
        "Operation": "OperationTypeApply",
        "Who": "operator@elsewhere",
        "Version": "1.11.4",
        "Created": "2026-11-29T04:00:00Z",
        "Path": lock_id,
        "Info": "",
    }
    table.put_item(
        TableName="qengine-terraform-locks",
        Item={"LockID": {"S": lock_id}, "Info": {"S": json.dumps(info)}},
    )


def test_a_pause_that_fails_at_its_apply_gives_the_node_groups_back(
    sandbox: AwsSettings,
) -> None:
    _ok(_run(_job(), sandbox))
    _grow(sandbox, "general", 5)
    _stale_lock(sandbox, present=True)
    executor = Executor(store=MemoryStateStore())
    job = _job("pause")
    ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id=job.cluster.id)
    plan = Plan(steps_for(AwsJob.of(job, _open, sandbox)))
    stopped = executor.run(plan, ref)
    assert stopped.status is JobStatus.FAILED
    assert stopped.error is not None
    assert "operator@elsewhere" in stopped.error.message
    assert [o.step_id for o in stopped.steps if o.status.value == "failed"] == ["aws.apply"]
    # Rolled back through EKS (scaled first, given back); the apply's own undo needs the
    # state lock the stale holder keeps, so it is listed as left.
    assert _eks_sizes(sandbox)["general"] == (2, 6, 5)
    assert _saved(sandbox) is None
    assert "aws.apply" in stopped.left_in_place
    assert list(stopped.rolled_back) == ["aws.scale-node-groups", "aws.save-node-group-sizes"]
    _stale_lock(sandbox, present=False)
    _ok(_run(_job("pause"), sandbox))
    saved = _saved(sandbox)
    assert saved is not None
    assert saved["general"]["desired_size"] == 5
    _ok(_run(_job("resume"), sandbox))
    assert _eks_sizes(sandbox)["general"] == (2, 6, 5)


def test_upgrade_one_minor_version_control_plane_then_nodes(sandbox: AwsSettings) -> None:
    _ok(_run(_job(kubernetes_version="1.31"), sandbox))
    result = _ok(_run(_job("upgrade", kubernetes_version="1.32"), sandbox))
    assert result.outputs["aws.upgrade-control-plane"]["cluster_version"] == "1.32"
    assert "kubernetes_version" not in _inputs(_state(sandbox))["node_group_general"]


def test_an_upgrade_that_skips_a_minor_version_is_refused(sandbox: AwsSettings) -> None:
    _ok(_run(_job(kubernetes_version="1.30"), sandbox))
    serial = _state(sandbox)["serial"]
    result = _run(_job("upgrade", kubernetes_version="1.32"), sandbox)
    assert result.status is JobStatus.FAILED
    assert result.error is not None
    assert "skips a minor version" in result.error.message
    assert _state(sandbox)["serial"] == serial


def test_delete_destroys_and_keeps_the_bucket(sandbox: AwsSettings) -> None:
    from aws_support import client

    _ok(_run(_job(), sandbox))
    _ok(_run(_job("delete"), sandbox))
    assert _state(sandbox)["resources"] == []
    assert client(sandbox, "eks").list_clusters()["clusters"] == []
    bucket = default_bucket(ACCOUNT, REGION)
    assert client(sandbox, "s3").head_bucket(Bucket=bucket)


def test_delete_of_a_paused_cluster_forgets_the_sizes_its_pause_saved(
    sandbox: AwsSettings,
) -> None:
    _ok(_run(_job(), sandbox))
    _ok(_run(_job("pause"), sandbox))
    assert _saved(sandbox) is not None
    _ok(_run(_job("delete"), sandbox))
    assert _saved(sandbox) is None
    # The cluster made again under the same id runs, and its first pause saves its own sizes.
    _ok(_run(_job(), sandbox))
    _ok(_run(_job("pause"), sandbox))
    assert _saved(sandbox) is not None


def test_refused_credentials_fail_preflight_without_showing_them(auth_enforced: str) -> None:
    settings = AwsSettings(
        endpoint_url=auth_enforced,
        sandbox=PLACEHOLDER_CLUSTER,
        sandbox_credentials=SANDBOX_CREDENTIALS,
    )
    result = _run(_job(), settings)
    assert result.status is JobStatus.FAILED
    assert result.error is not None
    assert result.error.kind == "AuthError"
    assert [o.step_id for o in result.steps if o.status.value == "succeeded"] == []
    shown = result.error.message + result.error.hint
    assert SANDBOX_CREDENTIALS[1] not in shown
    assert EXTERNAL_ID not in shown


def test_credentials_stay_out_of_environ_state_and_outputs(sandbox: AwsSettings) -> None:
    before = dict(os.environ)
    result = _ok(_run(_job(), sandbox))
    assert dict(os.environ) == before
    text = json.dumps(_state(sandbox)) + json.dumps(result.outputs, default=str)
    assert SANDBOX_CREDENTIALS[1] not in text
    assert EXTERNAL_ID not in text


def test_a_create_of_a_paused_cluster_keeps_it_paused(sandbox: AwsSettings) -> None:
    _ok(_run(_job(), sandbox))
    _ok(_run(_job("pause"), sandbox))
    again = dict(id="eks-prod-converge-0002")
    events: list[Event] = []
    converged = _job()
    converged = attrs.evolve(converged, **again)
    _ok(_run(converged, sandbox, events))
    assert any("is paused: its node groups stay at zero" in e.message for e in events)
    assert _eks_sizes(sandbox) == {"general": (0, 6, 0), "spot": (0, 10, 0)}
    _ok(_run(_job("resume"), sandbox))
    assert _eks_sizes(sandbox) == {"general": (2, 6, 3), "spot": (0, 10, 0)}


def _cancelled_at(
    job: InfrastructureJob, settings: AwsSettings, step_id: str, events: list[Event]
) -> JobResult:
    """Run ``job``, cancelling it (as SIGTERM does) as soon as ``step_id`` starts."""
    from qengine.interfaces.cancel import CancelToken

    token = CancelToken()

    def watch(event: Event) -> None:
        events.append(event)
        if event.type.value == "step.started" and event.step_id == step_id:
            token.cancel("SIGTERM")

    steps = steps_for(AwsJob.of(job, _open, settings))
    ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id=job.cluster.id)
    return Executor().run(Plan(steps), ref, sinks=[CallbackSink(watch)], cancel=token)


def test_a_cancelled_pause_gives_the_node_groups_back_and_forgets_what_it_saved(
    sandbox: AwsSettings,
) -> None:
    _ok(_run(_job(), sandbox))
    _grow(sandbox, "general", 5)
    before = _inputs(_state(sandbox))["node_group_general"]
    events: list[Event] = []

    result = _cancelled_at(_job("pause"), sandbox, "aws.apply", events)

    assert result.status is JobStatus.CANCELLED
    assert list(result.rolled_back) == [
        "aws.apply",
        "aws.scale-node-groups",
        "aws.save-node-group-sizes",
    ]
    assert _eks_sizes(sandbox)["general"] == (2, 6, 5)
    assert _saved(sandbox) is None
    assert _inputs(_state(sandbox))["node_group_general"] == before
    _ok(_run(_job("pause"), sandbox))  # a later pause saves the sizes as they are
    saved = _saved(sandbox)
    assert saved is not None
    assert saved["general"]["desired_size"] == 5


def test_a_cancelled_resume_leaves_the_cluster_paused_with_its_saved_sizes(
    sandbox: AwsSettings,
) -> None:
    _ok(_run(_job(), sandbox))
    _ok(_run(_job("pause"), sandbox))
    saved = _saved(sandbox)
    events: list[Event] = []

    result = _cancelled_at(_job("resume"), sandbox, "aws.apply", events)

    assert result.status is JobStatus.CANCELLED
    assert "aws.apply" in result.rolled_back
    assert "aws.restore-node-group-sizes" in result.rolled_back
    assert _eks_sizes(sandbox) == {"general": (0, 6, 0), "spot": (0, 10, 0)}
    assert _saved(sandbox) == saved
    paused = _inputs(_state(sandbox))["node_group_general"]
    assert (paused["min_size"], paused["desired_size"]) == (0, 0)
    _ok(_run(_job("resume"), sandbox))
    assert _eks_sizes(sandbox)["general"] == (2, 6, 3)


def test_a_cancelled_pause_of_a_paused_cluster_leaves_it_paused(sandbox: AwsSettings) -> None:
    _ok(_run(_job(), sandbox))
    _ok(_run(_job("pause"), sandbox))
    saved = _saved(sandbox)
    events: list[Event] = []

    result = _cancelled_at(_job("pause"), sandbox, "aws.apply", events)

    assert result.status is JobStatus.CANCELLED
    assert _eks_sizes(sandbox)["general"] == (0, 6, 0)
    assert _saved(sandbox) == saved


def test_a_cancelled_first_create_destroys_what_it_made(sandbox: AwsSettings) -> None:
    events: list[Event] = []

    result = _cancelled_at(_job(), sandbox, "aws.apply", events)

    assert result.status is JobStatus.CANCELLED
    assert "aws.apply" in result.rolled_back
    assert [r for r in _state(sandbox)["resources"] if r["type"] == "terraform_data"] == []
    from aws_support import client

    assert client(sandbox, "eks").list_clusters()["clusters"] == []
    _ok(_run(_job(), sandbox))  # a later create starts from nothing
    assert _eks_sizes(sandbox)["general"] == (2, 6, 3)


def test_a_cancelled_converge_of_an_existing_cluster_is_left_as_terraform_has_it(
    sandbox: AwsSettings,
) -> None:
    _ok(_run(_job(), sandbox))
    events: list[Event] = []

    result = _cancelled_at(_job(), sandbox, "aws.apply", events)

    assert result.status is JobStatus.CANCELLED
    assert "aws.apply" in result.left_in_place
    assert _inputs(_state(sandbox))["node_group_general"]["min_size"] == 2
    assert _eks_sizes(sandbox)["general"] == (2, 6, 3)
