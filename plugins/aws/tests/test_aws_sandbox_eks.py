"""The sandbox's stand-ins in moto's EKS: registered like the real apply makes them, removed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_support import ACCOUNT, client
from qengine_aws.blueprint import BlueprintOptions
from qengine_aws.credentials import AwsAccess
from qengine_aws.node_groups import NODE_GROUP_LABEL
from qengine_aws.sandbox_eks import STAND_IN, register_stand_ins, remove_stand_ins

from qengine import load_plugins
from qengine.plugin import InfrastructureError
from qengine.spec import InfrastructureJob

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"


def _job(drop_spot: bool = False) -> InfrastructureJob:
    document = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    if drop_spot:
        groups = document["cluster"]["provider"]["node_groups"]
        document["cluster"]["provider"]["node_groups"] = [g for g in groups if g["name"] != "spot"]
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _held(access: AwsAccess) -> dict[str, dict[str, Any]]:
    eks = client(access.settings, "eks")
    found = {}
    for name in eks.list_nodegroups(clusterName="prod-eu")["nodegroups"]:
        group = eks.describe_nodegroup(clusterName="prod-eu", nodegroupName=name)["nodegroup"]
        found[group["labels"][NODE_GROUP_LABEL]] = group
    return found


def _sizes(access: AwsAccess) -> dict[str, tuple[int, int, int]]:
    return {
        label: (
            g["scalingConfig"]["minSize"],
            g["scalingConfig"]["maxSize"],
            g["scalingConfig"]["desiredSize"],
        )
        for label, g in _held(access).items()
    }


def test_register_makes_the_cluster_and_labelled_node_groups(access: AwsAccess) -> None:
    changes = register_stand_ins(access, _job(), BlueprintOptions(), account=ACCOUNT)
    assert len(changes) == 3
    assert all(change.startswith(STAND_IN) for change in changes)
    cluster = client(access.settings, "eks").describe_cluster(name="prod-eu")["cluster"]
    assert cluster["version"] == "1.32"
    held = _held(access)
    assert _sizes(access) == {"general": (2, 6, 3), "spot": (0, 10, 0)}
    # Named as the module names them: the job's name and a suffix.
    assert held["general"]["nodegroupName"].startswith("general-")
    assert held["general"]["nodegroupName"] != "general"
    assert held["spot"]["capacityType"] == "SPOT"


def test_register_twice_changes_nothing(access: AwsAccess) -> None:
    register_stand_ins(access, _job(), BlueprintOptions(), account=ACCOUNT)
    assert register_stand_ins(access, _job(), BlueprintOptions(), account=ACCOUNT) == []


def test_a_paused_apply_moves_min_and_keeps_desired_as_the_module_does(access: AwsAccess) -> None:
    register_stand_ins(access, _job(), BlueprintOptions(), account=ACCOUNT)
    register_stand_ins(access, _job(), BlueprintOptions(paused=True), account=ACCOUNT)
    assert _sizes(access)["general"] == (0, 6, 3)


def test_an_apply_raising_min_above_desired_is_refused_as_eks_does(access: AwsAccess) -> None:
    register_stand_ins(access, _job(), BlueprintOptions(paused=True), account=ACCOUNT)
    assert _sizes(access)["general"] == (0, 6, 0)
    with pytest.raises(InfrastructureError, match="EKS refuses min 2, max 6"):
        register_stand_ins(access, _job(), BlueprintOptions(), account=ACCOUNT)


def test_a_node_group_left_out_of_the_job_is_deleted(access: AwsAccess) -> None:
    register_stand_ins(access, _job(), BlueprintOptions(), account=ACCOUNT)
    changes = register_stand_ins(access, _job(drop_spot=True), BlueprintOptions(), account=ACCOUNT)
    assert set(_held(access)) == {"general"}
    assert any("deleted the node group spot-" in change for change in changes)


def test_remove_deletes_node_groups_and_cluster_once(access: AwsAccess) -> None:
    register_stand_ins(access, _job(), BlueprintOptions(), account=ACCOUNT)
    changes = remove_stand_ins(access, "prod-eu")
    assert len(changes) == 3
    assert client(access.settings, "eks").list_clusters()["clusters"] == []
    assert remove_stand_ins(access, "prod-eu") == []
