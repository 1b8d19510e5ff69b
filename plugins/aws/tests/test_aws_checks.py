"""Checks of AWS infrastructure jobs, through the plugin loaded from its entry point."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from qengine_aws import AwsProvider

from qengine import SpecError, load_plugins
from qengine.spec import InfrastructureJob

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"


def _job() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return copy.deepcopy(data)


def _paths(document: dict[str, Any]) -> set[str]:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(document)
    return {issue.path for issue in caught.value.issues}


def test_example_loads_into_the_aws_section() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    job = plugins.loader.load(_job())
    provider = job.cluster.provider  # type: ignore[union-attr]
    assert isinstance(provider, AwsProvider)
    assert provider.node_groups[1].spot


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda p: p.update(region="moon-1"), "$.cluster.provider.region"),
        (lambda p: p.update(role_arn="role/admin"), "$.cluster.provider.role_arn"),
        (lambda p: p.update(vpc_cidr="10.0.0.0/26"), "$.cluster.provider.vpc_cidr"),
        (lambda p: p.update(availability_zones=1), "$.cluster.provider.availability_zones"),
        (lambda p: p.update(service_cidr="10.40.128.0/20"), "$.cluster.provider.service_cidr"),
        (lambda p: p.update(service_cidr="100.64.0.0/16"), "$.cluster.provider.service_cidr"),
        (lambda p: p.update(service_cidr="172.20.0.0/26"), "$.cluster.provider.service_cidr"),
        (
            lambda p: p["node_groups"][0].update(min_size=9),
            "$.cluster.provider.node_groups[0].max_size",
        ),
        (
            lambda p: p["node_groups"][1].update(instance_types=["huge"]),
            "$.cluster.provider.node_groups[1].instance_types[0]",
        ),
        (lambda p: p.update(node_groups=[]), "$.cluster.provider.node_groups"),
        (lambda p: p.update(access_key_id={"secret": "k"}), "$.cluster.provider.secret_access_key"),
    ],
)
def test_bad_cluster_settings_are_refused_with_their_path(change: Any, path: str) -> None:
    document = _job()
    change(document["cluster"]["provider"])
    assert path in _paths(document)


def test_kubernetes_version_aws_does_not_offer() -> None:
    document = _job()
    document["cluster"]["kubernetes_version"] = "1.21"
    assert _paths(document) == {"$.cluster.kubernetes_version"}


def test_a_cluster_name_too_long_for_its_iam_names_is_refused_at_the_edge() -> None:
    """29 characters: <name>-cluster- (the EKS module's role prefix) is 38, IAM's limit for a
    prefix; <name>-cluster-autoscaler (the blueprint's longest role) is 48. 30 is refused with
    the path, the limit and why."""
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    document = _job()
    document["cluster"]["name"] = "c" * 29
    accepted = plugins.loader.load(document)
    assert isinstance(accepted, InfrastructureJob)
    assert accepted.cluster.name == "c" * 29
    document["cluster"]["name"] = "c" * 30
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(document)
    [issue] = caught.value.issues
    assert issue.path == "$.cluster.name"
    assert "is 30 characters; at most 29 on AWS" in issue.message
    assert "<name>-cluster- (IAM role name prefixes are at most 38" in issue.message
    assert "<name>-cluster-autoscaler" in issue.message


def test_the_limit_is_the_tightest_of_the_names_made_from_the_cluster() -> None:
    from qengine_aws import checks

    assert checks.MAX_CLUSTER_NAME == 29
    assert checks.MAX_CLUSTER_NAME + len("-cluster-") == checks.IAM_ROLE_PREFIX_MAX == 38
    assert checks.MAX_CLUSTER_NAME + len("-cluster-autoscaler") <= 64


def test_a_node_group_name_too_long_for_its_iam_role_prefix_is_refused_at_the_edge() -> None:
    """The module prefixes each node group's IAM role <group>-eks-node-group-: 22 characters
    make it 38, 23 are refused with the group's path."""
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    document = _job()
    document["cluster"]["provider"]["node_groups"][1]["name"] = "g" * 22
    accepted = plugins.loader.load(document)
    assert isinstance(accepted, InfrastructureJob)
    provider = accepted.cluster.provider
    assert isinstance(provider, AwsProvider)
    assert provider.node_groups[1].name == "g" * 22
    document["cluster"]["provider"]["node_groups"][1]["name"] = "g" * 23
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(document)
    [issue] = caught.value.issues
    assert issue.path == "$.cluster.provider.node_groups[1].name"
    assert "is 23 characters; at most 22 on AWS" in issue.message
    assert "<name>-eks-node-group-" in issue.message


def test_validation_does_not_import_boto3() -> None:
    import subprocess
    import sys

    script = (
        "import sys; from qengine import load_plugins; "
        f"load_plugins(strict=True).loader.read(__import__('pathlib').Path({str(EXAMPLE)!r})); "
        "print('boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"region": "mars-2"}, "$.registry.region"),
        ({"keep_last": 0}, "$.registry.keep_last"),
        ({"prefix": "Team/Apps"}, "$.registry.prefix"),
    ],
)
def test_bad_ecr_settings_are_refused_with_their_path(change: dict[str, Any], path: str) -> None:
    document = _job()
    document["registry"].update(change)
    assert _paths(document) == {path}
