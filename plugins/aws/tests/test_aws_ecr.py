"""The ECR registry against moto's ECR control plane, built as the engine builds it."""

from __future__ import annotations

import base64
import datetime
import json

import attrs
import pytest
from aws_support import ACCOUNT, REGION, CountingRelay
from qengine_aws.credentials import AwsAccess
from qengine_aws.ecr import EcrContainerRegistry, lifecycle_policy
from qengine_aws.settings import AwsSettings
from qengine_aws.spec import EcrRegistry

from qengine.plugin import ContainerRegistry, JobServices

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


def _registry(services: JobServices, **settings: object) -> EcrContainerRegistry:
    spec = EcrRegistry(kind="ecr", region=REGION, **settings)  # type: ignore[arg-type]
    return EcrContainerRegistry(spec, services)


def test_the_registered_factory_builds_the_jobs_registry_without_a_request(
    moto: str, services: JobServices, access: AwsAccess
) -> None:
    with CountingRelay(int(moto.rsplit(":", 1)[1])) as relay:
        settings = services.settings_for("aws", AwsSettings)
        assert settings is not None
        relayed = attrs.evolve(settings, endpoint_url=f"http://127.0.0.1:{relay.port}")
        services = attrs.evolve(services, settings={"aws": relayed})
        registry = services.container_registry()
        assert relay.connections == 0
        assert isinstance(registry, EcrContainerRegistry)
        assert isinstance(registry, ContainerRegistry)
        assert registry.spec.keep_last == 30  # the example job's registry section
        assert registry.ensure_repository("api") == f"{registry.host}/qengine/api"
        assert registry.host == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
        assert relay.connections > 0
    policy = access.client("ecr").get_lifecycle_policy(repositoryName="qengine/api")
    assert json.loads(policy["lifecyclePolicyText"]) == lifecycle_policy(30)


def test_ensure_repository_applies_the_settings(services: JobServices, access: AwsAccess) -> None:
    registry = _registry(services, keep_last=7)
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


def test_ensure_repository_is_idempotent_and_corrects_drift(
    services: JobServices, access: AwsAccess
) -> None:
    registry = _registry(services)
    first = registry.ensure_repository("web")
    ecr = access.client("ecr")
    ecr.put_image_tag_mutability(repositoryName="qengine/web", imageTagMutability="MUTABLE")
    ecr.delete_lifecycle_policy(repositoryName="qengine/web")
    assert registry.ensure_repository("web") == first
    (repo,) = ecr.describe_repositories(repositoryNames=["qengine/web"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert ecr.get_lifecycle_policy(repositoryName="qengine/web")["lifecyclePolicyText"]


def test_mutable_tags_without_scanning(services: JobServices, access: AwsAccess) -> None:
    registry = _registry(services, immutable_tags=False, scan_on_push=False, prefix="")
    registry.ensure_repository("tools")
    (repo,) = access.client("ecr").describe_repositories(repositoryNames=["tools"])["repositories"]
    assert repo["imageTagMutability"] == "MUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": False}


def test_credentials_are_the_short_lived_token(services: JobServices) -> None:
    registry = _registry(services)
    credentials = registry.credentials()
    assert credentials.username == "AWS"
    assert credentials.password
    assert credentials.server == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    assert credentials.server == registry.host
    assert credentials.password not in repr(credentials)
    payload = json.loads(registry.pull_secret_payload())
    assert payload["auths"][registry.host]["password"] == credentials.password


def test_digests_image_exists_and_delete(services: JobServices, access: AwsAccess) -> None:
    registry = _registry(services)
    registry.ensure_repository("api")
    repository = registry.repository_of("api")
    assert repository == "qengine/api"
    assert registry.digest_of(repository, "v1") is None
    assert not registry.image_exists(repository, "v1")
    pushed = access.client("ecr").put_image(
        repositoryName=repository, imageManifest=MANIFEST, imageTag="v1"
    )
    digest = pushed["image"]["imageId"]["imageDigest"]
    assert digest.startswith("sha256:")
    assert registry.digest_of(repository, "v1") == digest
    assert registry.digest_of(repository, digest) == digest  # by digest as well as by tag
    assert registry.image_exists(repository, "v1")
    assert not registry.image_exists(repository, "v2")
    registry.delete_image(repository, "v1")
    assert not registry.image_exists(repository, "v1")
    registry.delete_image(repository, "v1")


def test_a_missing_repository_has_no_images(services: JobServices) -> None:
    registry = _registry(services)
    assert registry.digest_of("qengine/nothing-here", "v1") is None
    assert not registry.image_exists("qengine/nothing-here", "v1")
    registry.delete_image("qengine/nothing-here", "v1")


def test_refused_credentials_are_an_auth_error(auth_enforced: str, services: JobServices) -> None:
    from qengine.plugin import AuthError

    with pytest.raises(AuthError):
        _registry(services).digest_of("qengine/api", "v1")


def test_the_pull_secret_is_the_token_with_the_expiry_ecr_gives(
    services: JobServices, access: AwsAccess
) -> None:
    registry = _registry(services)
    assert registry.spec.needs_pull_secret
    assert registry.spec.pull_secret_lifetime == datetime.timedelta(hours=12)
    pull = registry.pull_secret()
    [(server, entry)] = json.loads(pull.payload)["auths"].items()
    assert server == registry.host
    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    assert user == "AWS"
    assert password
    assert password not in repr(pull)
    # The expiry is ECR's own ``expiresAt`` (twelve hours after issue on AWS), passed through
    # as an aware time. moto answers a fixed date (2015-01-01), so only the pass-through is
    # checked here, against what the same API answers to a direct call.
    ecr = access.client("ecr", region=REGION)
    direct = ecr.get_authorization_token()["authorizationData"][0]["expiresAt"]
    assert pull.expires_at is not None
    assert pull.expires_at.tzinfo is not None
    assert pull.expires_at == direct
