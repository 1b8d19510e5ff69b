"""Pause and resume of node groups through EKS, on moto: saved sizes, scaling, restoring.

Each test makes a cluster and managed node groups in moto's EKS with boto3 (names with a
suffix, as the EKS module makes them, and the ``qengine.dev/node-group`` label), the state
backend with the plugin's own step, then calls the pause and resume functions the steps run.
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import attrs
import pytest
from aws_support import ACCOUNT, FAKE_KEY_ID, FAKE_SECRET, client, secrets_of
from qengine_aws.credentials import AwsAccess
from qengine_aws.node_groups import (
    NODE_GROUP_LABEL,
    Scaling,
    ScalingPending,
    cluster_node_groups,
    converge,
)
from qengine_aws.pause import (
    forget_sizes_of,
    restore_sizes,
    resume_target,
    save_sizes_of,
    scale_to_zero,
)
from qengine_aws.saved_sizes import SavedSizes, load_sizes, save_sizes, saved_sizes_key
from qengine_aws.spec import NodeGroup, StateBackend
from qengine_aws.state_backend import StateLocation, ensure_state_backend

from qengine import load_plugins
from qengine.interfaces.cancel import CancelToken
from qengine.plugin import CancelledError, ConflictError, InfrastructureError
from qengine.retry import RetryPolicy
from qengine.spec import InfrastructureJob

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"
CLUSTER = "prod-eu"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/nodes"


def _job(node_groups: list[dict[str, Any]] | None = None) -> InfrastructureJob:
    document = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document["cluster"]["provider"]["state"] = {}
    if node_groups is not None:
        document["cluster"]["provider"]["node_groups"] = node_groups
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _group(name: str, low: int, high: int, desired: int | None = None) -> dict[str, Any]:
    group: dict[str, Any] = {
        "name": name,
        "instance_types": ["t3.large"],
        "min_size": low,
        "max_size": high,
    }
    if desired is not None:
        group["desired_size"] = desired
    return group


@pytest.fixture
def eks(access: AwsAccess) -> Any:
    """moto's EKS holding the cluster and two node groups at grown sizes (general at 5)."""
    eks = client(access.settings, "eks")
    eks.create_cluster(
        name=CLUSTER, roleArn=f"arn:aws:iam::{ACCOUNT}:role/cluster", resourcesVpcConfig={}
    )
    _make(eks, "general-20261129045500000000000001", "general", _scaling(2, 6, 5))
    _make(eks, "spot-20261129045500000000000002", "spot", _scaling(0, 10, 4))
    return eks


def _make(eks: Any, name: str, label: str | None, scaling: Scaling) -> None:
    eks.create_nodegroup(
        clusterName=CLUSTER,
        nodegroupName=name,
        scalingConfig=scaling.config(),
        labels={NODE_GROUP_LABEL: label} if label else {"team": "other"},
        nodeRole=ROLE,
        subnets=[],
    )


def _scaling(low: int, high: int, desired: int) -> Scaling:
    return Scaling(min_size=low, max_size=high, desired_size=desired)


@pytest.fixture
def location(access: AwsAccess) -> StateLocation:
    found, _ = ensure_state_backend(
        access, StateBackend(), cluster_id="cluster-prod-eu", account=ACCOUNT, tls_only=False
    )
    return found


def _sizes(eks: Any) -> dict[str, tuple[int, int, int]]:
    """What moto's EKS holds, by EKS name: (min, max, desired)."""
    held = {}
    for name in eks.list_nodegroups(clusterName=CLUSTER)["nodegroups"]:
        config = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=name)["nodegroup"][
            "scalingConfig"
        ]
        held[name.split("-")[0]] = (config["minSize"], config["maxSize"], config["desiredSize"])
    return held


def _pause(access: AwsAccess, location: StateLocation, job: InfrastructureJob) -> list[str]:
    said: list[str] = []
    save_sizes_of(access, job, location, said.append)
    scale_to_zero(access, job, CancelToken(), said.append)
    return said


def _resume(access: AwsAccess, location: StateLocation, job: InfrastructureJob) -> list[str]:
    said: list[str] = []
    restore_sizes(access, job, location, CancelToken(), said.append)
    forget_sizes_of(access, job, location, said.append)
    return said


def test_pause_saves_the_sizes_and_scales_to_zero(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    said: list[str] = []
    saved = save_sizes_of(access, _job(), location, said.append)
    assert saved["general.desired"] == "5"
    scaled = scale_to_zero(access, _job(), CancelToken(), said.append)
    assert _sizes(eks) == {"general": (0, 6, 0), "spot": (0, 10, 0)}
    assert scaled == {
        "general.min": "0",
        "general.max": "6",
        "general.desired": "0",
        "spot.min": "0",
        "spot.max": "10",
        "spot.desired": "0",
    }
    record = load_sizes(access, location, "cluster-prod-eu")
    assert record is not None
    assert record.node_groups == {"general": _scaling(2, 6, 5), "spot": _scaling(0, 10, 4)}


def test_the_record_sits_next_to_the_state_encrypted_with_its_key(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    _pause(access, location, _job())
    s3 = client(access.settings, "s3")
    key = saved_sizes_key("cluster-prod-eu")
    assert key.rsplit("/", 1)[0] == location.key.rsplit("/", 1)[0]
    head = s3.head_object(Bucket=location.bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == location.kms_key_arn
    body = json.loads(s3.get_object(Bucket=location.bucket, Key=key)["Body"].read())
    assert body["cluster_name"] == CLUSTER
    assert body["node_groups"]["general"] == {"min_size": 2, "max_size": 6, "desired_size": 5}


def test_a_second_pause_keeps_the_first_sizes(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    _pause(access, location, _job())
    said = _pause(access, location, _job())
    assert any("sizes saved by the first pause are kept" in line for line in said)
    record = load_sizes(access, location, "cluster-prod-eu")
    assert record is not None
    assert record.node_groups["general"] == _scaling(2, 6, 5)
    assert _sizes(eks)["general"] == (0, 6, 0)


def test_an_existing_record_is_never_overwritten(
    access: AwsAccess, location: StateLocation
) -> None:
    first = SavedSizes(cluster_name=CLUSTER, node_groups={"general": _scaling(2, 6, 5)})
    second = SavedSizes(cluster_name=CLUSTER, node_groups={"general": _scaling(0, 6, 0)})
    assert save_sizes(access, location, "cluster-prod-eu", first) is True
    assert save_sizes(access, location, "cluster-prod-eu", second) is False
    assert load_sizes(access, location, "cluster-prod-eu") == first


def test_resume_restores_the_saved_sizes_then_forgets_them(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    _pause(access, location, _job())
    said = _resume(access, location, _job())
    # general had grown to 5 (the job says 3): the saved size wins, within the job's range.
    assert _sizes(eks) == {"general": (2, 6, 5), "spot": (0, 10, 4)}
    assert load_sizes(access, location, "cluster-prod-eu") is None
    assert "deleted the saved node group sizes" in said


def test_resume_clamps_the_saved_size_into_the_jobs_range(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    _pause(access, location, _job())
    # While paused the job's ranges changed: general may hold at most 4, spot at least 6.
    job = _job([_group("general", 1, 4), _group("spot", 6, 8)])
    restored: list[str] = []
    outputs = restore_sizes(access, job, location, CancelToken(), restored.append)
    assert _sizes(eks) == {"general": (1, 4, 4), "spot": (6, 8, 6)}
    assert outputs["general.desired"] == "4"
    assert outputs["spot.desired"] == "6"


def test_resume_without_saved_sizes_uses_the_jobs_desired_or_min(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    scale_to_zero(access, _job(), CancelToken(), lambda _: None)
    restore_sizes(access, _job(), location, CancelToken(), lambda _: None)
    assert _sizes(eks) == {"general": (2, 6, 3), "spot": (0, 10, 0)}


def test_node_groups_added_and_removed_while_paused(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    _pause(access, location, _job())
    # spot left the job, batch joined it.
    job = _job([_group("general", 2, 6, 3), _group("batch", 1, 2)])
    said: list[str] = []
    outputs = restore_sizes(access, job, location, CancelToken(), said.append)
    assert _sizes(eks) == {"general": (2, 6, 5), "spot": (0, 10, 0)}
    assert "the node group batch is new: the apply creates it at the job's sizes" in said
    assert "the node group spot is no longer in the job: left at zero for the apply" in said
    assert set(outputs) == {"general.min", "general.max", "general.desired"}


def test_node_groups_without_the_label_are_not_touched(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    _make(eks, "theirs-1", None, _scaling(1, 3, 2))
    _pause(access, location, _job())
    assert _sizes(eks)["theirs"] == (1, 3, 2)
    record = load_sizes(access, location, "cluster-prod-eu")
    assert record is not None
    assert set(record.node_groups) == {"general", "spot"}
    assert set(cluster_node_groups(access, CLUSTER)) == {"general", "spot"}


def test_pausing_a_cluster_eks_does_not_know_saves_nothing(
    access: AwsAccess, location: StateLocation
) -> None:
    said: list[str] = []
    assert save_sizes_of(access, _job(), location, said.append) == {"saved_by_this_job": "no"}
    assert scale_to_zero(access, _job(), CancelToken(), said.append) == {}
    assert load_sizes(access, location, "cluster-prod-eu") is None
    assert said == ["EKS has no node group of prod-eu yet: no size to save"]


def test_a_cancelled_job_scales_nothing(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    token = CancelToken()
    token.cancel("stop")
    with pytest.raises(CancelledError):
        scale_to_zero(access, _job(), token, lambda _: None)
    assert _sizes(eks)["general"] == (2, 6, 5)


def test_a_rerun_after_an_interrupted_resume_converges(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    _pause(access, location, _job())
    # Killed after restoring, before the record was deleted: the whole resume runs again.
    restore_sizes(access, _job(), location, CancelToken(), lambda _: None)
    _resume(access, location, _job())
    assert _sizes(eks) == {"general": (2, 6, 5), "spot": (0, 10, 4)}
    assert load_sizes(access, location, "cluster-prod-eu") is None


def test_an_unreadable_record_is_an_infrastructure_error_with_a_hint(
    access: AwsAccess, location: StateLocation
) -> None:
    client(access.settings, "s3").put_object(
        Bucket=location.bucket, Key=saved_sizes_key("cluster-prod-eu"), Body=b"{}"
    )
    with pytest.raises(InfrastructureError) as raised:
        load_sizes(access, location, "cluster-prod-eu")
    assert "paused-node-groups.json" in raised.value.hint


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        pytest.param(_scaling(2, 6, 5), 5, id="saved-within-range"),
        pytest.param(_scaling(2, 9, 9), 6, id="saved-above-max"),
        pytest.param(_scaling(0, 6, 0), 2, id="saved-below-min"),
        pytest.param(None, 3, id="nothing-saved-job-desired"),
    ],
)
def test_resume_target(saved: Any, expected: int) -> None:
    group = NodeGroup(name="general", instance_types=("t3.large",), min_size=2, max_size=6)
    with_desired = NodeGroup(
        name="general", instance_types=("t3.large",), min_size=2, max_size=6, desired_size=3
    )
    target = resume_target(with_desired, saved)
    assert (target.min_size, target.max_size, target.desired_size) == (2, 6, expected)
    assert resume_target(group, None).desired_size == 2
    if saved is not None:  # what was saved wins over what runs now
        assert resume_target(with_desired, saved, 4).desired_size == expected


def test_resume_of_a_running_cluster_keeps_its_node_counts(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    # Never paused, nothing saved: general runs 5 nodes (the job says 3), spot 4.
    job = _job([_group("general", 2, 6, 3), _group("spot", 0, 3)])
    restore_sizes(access, job, location, CancelToken(), lambda _: None)
    assert _sizes(eks) == {"general": (2, 6, 5), "spot": (0, 3, 3)}


def _moto_node_group(label: str) -> Any:
    """The node group inside the in-process moto server (its EKS backend), to set its status
    as EKS does while an update runs; moto itself reports every node group ACTIVE."""
    from moto.eks.models import eks_backends

    cluster = eks_backends[ACCOUNT]["eu-west-3"].clusters[CLUSTER]
    return next(g for g in cluster.nodegroups.values() if g.labels.get(NODE_GROUP_LABEL) == label)


def _quick(access: AwsAccess, attempts: int) -> AwsAccess:
    settings = attrs.evolve(
        access.settings,
        poll=RetryPolicy(max_attempts=attempts, max_elapsed_seconds=30.0),
        poll_interval=0.05,
    )
    opener = secrets_of({"key_id": FAKE_KEY_ID, "secret_key": FAKE_SECRET})
    return AwsAccess(access.request, open_secret=opener, settings=settings)


def test_a_node_group_being_updated_is_waited_for_then_scaled(access: AwsAccess, eks: Any) -> None:
    group = _moto_node_group("general")
    group.status = "UPDATING"
    quick = _quick(access, attempts=3)
    zero = {group.nodegroup_name: _scaling(0, 6, 0)}
    with pytest.raises(ScalingPending, match="general-"):
        converge(quick, CLUSTER, zero, cancel=CancelToken())
    assert _sizes(eks)["general"] == (2, 6, 5)  # nothing is sent to a node group not ACTIVE
    timer = threading.Timer(0.2, lambda: setattr(group, "status", "ACTIVE"))
    timer.start()
    try:
        held = converge(_quick(access, attempts=200), CLUSTER, zero, cancel=CancelToken())
    finally:
        timer.cancel()
    assert held == zero
    assert _sizes(eks)["general"] == (0, 6, 0)


def test_a_failed_node_group_fails_the_wait(access: AwsAccess, eks: Any) -> None:
    group = _moto_node_group("spot")
    group.status = "CREATE_FAILED"
    with pytest.raises(InfrastructureError, match="CREATE_FAILED"):
        converge(access, CLUSTER, {group.nodegroup_name: _scaling(0, 10, 0)}, cancel=CancelToken())


def test_two_node_groups_with_one_label_are_a_conflict(
    access: AwsAccess, eks: Any, location: StateLocation
) -> None:
    _make(eks, "general-20261129050000000000000003", "general", _scaling(2, 6, 3))
    with pytest.raises(ConflictError, match=r"general-2026112904.* and general-2026112905"):
        save_sizes_of(access, _job(), location, lambda _: None)
    assert load_sizes(access, location, "cluster-prod-eu") is None
