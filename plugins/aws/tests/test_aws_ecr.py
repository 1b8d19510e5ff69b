"""The ECR registry against moto's ECR control plane."""

from __future__ import annotations

import json

from aws_support import ACCOUNT, REGION
from qengine_aws.credentials import AwsAccess
from qengine_aws.ecr import EcrContainerRegistry, lifecycle_policy
from qengine_aws.spec import EcrRegistry

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "sha256:" + "b" * 64,
        },
        "layers": [],
    }
)


def _registry(access: AwsAccess, **settings: object) -> EcrContainerRegistry:
    spec = EcrRegistry(kind="ecr", region=REGION, **settings)  # type: ignore[arg-type]
    return EcrContainerRegistry(spec, access)


def test_ensure_repository_applies_the_settings(access: AwsAccess) -> None:
    registry = _registry(access, keep_last=7)
    uri = registry.ensure_repository("api")
    assert uri == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/qengine/api"
    ecr = access.client("ecr")
    (repo,) = ecr.describe_repositories(repositoryNames=["qengine/api"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    policy = json.loads(
        ecr.get_lifecycle_policy(repositoryName="qengine/api")["lifecyclePolicyText"]
    )
    assert policy == lifecycle_policy(7)
    assert policy["rules"][0]["selection"]["countNumber"] == 7


def test_ensure_repository_is_idempotent_and_corrects_drift(access: AwsAccess) -> None:
    registry = _registry(access)
    first = registry.ensure_repository("web")
    ecr = access.client("ecr")
    ecr.put_image_tag_mutability(repositoryName="qengine/web", imageTagMutability="MUTABLE")
    ecr.delete_lifecycle_policy(repositoryName="qengine/web")
    assert registry.ensure_repository("web") == first
    (repo,) = ecr.describe_repositories(repositoryNames=["qengine/web"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert ecr.get_lifecycle_policy(repositoryName="qengine/web")["lifecyclePolicyText"]


def test_mutable_tags_without_scanning(access: AwsAccess) -> None:
    registry = _registry(access, immutable_tags=False, scan_on_push=False, prefix="")
    registry.ensure_repository("tools")
    (repo,) = access.client("ecr").describe_repositories(repositoryNames=["tools"])["repositories"]
    assert repo["imageTagMutability"] == "MUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": False}


def test_credentials_are_the_short_lived_token(access: AwsAccess) -> None:
    credentials = _registry(access).credentials()
    assert credentials.username == "AWS"
    assert credentials.password
    assert credentials.server == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    assert credentials.password not in repr(credentials)


def test_image_exists_and_delete(access: AwsAccess) -> None:
    registry = _registry(access)
    registry.ensure_repository("api")
    assert not registry.image_exists("api", "v1")
    access.client("ecr").put_image(
        repositoryName="qengine/api", imageManifest=MANIFEST, imageTag="v1"
    )
    assert registry.image_exists("api", "v1")
    assert not registry.image_exists("api", "v2")
    registry.delete_image("api", "v1")
    assert not registry.image_exists("api", "v1")
    registry.delete_image("api", "v1")


def test_a_missing_repository_has_no_images(access: AwsAccess) -> None:
    registry = _registry(access)
    assert not registry.image_exists("nothing-here", "v1")
    registry.delete_image("nothing-here", "v1")
