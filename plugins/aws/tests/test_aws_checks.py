"""Checks of AWS infrastructure jobs, through the plugin loaded from its entry point."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from qengine_aws import AwsProvider

from qengine import SpecError, load_plugins

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


def test_a_cluster_name_too_long_for_its_iam_roles_is_refused() -> None:
    document = _job()
    document["cluster"]["name"] = "c" * 52  # a DNS label, but <name>-external-dns is 65
    assert _paths(document) == {"$.cluster.name"}
    document["cluster"]["name"] = "c" * 51
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    assert plugins.loader.load(document).cluster.name == "c" * 51


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
