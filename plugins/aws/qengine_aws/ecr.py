"""Amazon ECR as a :class:`~qengine.interfaces.ContainerRegistry`.

Repositories are named ``<prefix>/<name>`` and made on demand with the spec's settings:
immutable tags (when asked), scan on push, and a lifecycle policy that expires all but the
last ``keep_last`` images. An existing repository is corrected to those settings, so calling
:meth:`EcrContainerRegistry.ensure_repository` twice changes nothing the second time.
Credentials are ECR's short-lived authorization token (12 hours), never a stored password.

The registry is built by the ``ecr`` factory from the job's ``registry`` section and services
(see :func:`qengine_aws.credentials.access_for`): construction sends no request; the account's
registry host is learnt from STS on first use.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
from typing import TYPE_CHECKING, Any

from qengine.plugin import AuthError, ContainerRegistry, PullSecret, RegistryCredentials
from qengine.source.auth_file import docker_config
from qengine_aws.credentials import access_for
from qengine_aws.preflight import caller_identity
from qengine_aws.spec import EcrRegistry

if TYPE_CHECKING:
    from qengine.plugin import JobServices

_MISSING = ("RepositoryNotFoundException", "ImageNotFoundException")


def _domain(region: str) -> str:
    """The DNS domain of AWS endpoints in ``region`` (the China regions have their own)."""
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def lifecycle_policy(keep_last: int) -> dict[str, Any]:
    """An ECR lifecycle policy keeping the newest ``keep_last`` images of any tag status."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"qengine: keep the last {keep_last} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_last,
                },
                "action": {"type": "expire"},
            }
        ]
    }


class EcrContainerRegistry(ContainerRegistry):
    """ECR repositories in ``section.region`` of the account the job's access acts as.

    Repository arguments (``digest_of``, ``image_exists``, ``delete_image``) are repository
    paths as :meth:`repository_of` gives them; ``ensure_repository`` takes a service's name.
    """

    def __init__(self, section: EcrRegistry, services: JobServices) -> None:
        self.spec = section
        self._access = access_for(services, section.region)
        self._host: str | None = None
        self._host_lock = threading.Lock()

    @property
    def host(self) -> str:
        """``<account>.dkr.ecr.<region>.<domain>``: the account's registry (asked of STS once)."""
        with self._host_lock:
            if self._host is None:
                account = caller_identity(self._access).account
                self._host = f"{account}.dkr.ecr.{self.spec.region}.{_domain(self.spec.region)}"
            return self._host

    def repository_of(self, name: str) -> str:
        """The repository path of service ``name`` (under the section's prefix)."""
        return f"{self.spec.prefix.strip('/')}/{name}" if self.spec.prefix else name

    def ensure_repository(self, name: str) -> str:
        """Create or correct the repository; return its URI (``<registry>/<prefix>/<name>``)."""
        full = self.repository_of(name)
        found = self._access.unless_absent(
            f"looking up the ECR repository {full}",
            lambda: self._ecr().describe_repositories(repositoryNames=[full]),
            "RepositoryNotFoundException",
        )
        if found is None:
            repository = self._create(full)
        else:
            repository = found["repositories"][0]
            self._correct(full, repository)
        self._ensure_lifecycle(full)
        return str(repository["repositoryUri"])

    def credentials(self) -> RegistryCredentials:
        """A 12-hour ECR token as basic-auth credentials for the account's registry."""
        return self._token()[0]

    def pull_secret(self) -> PullSecret:
        """A ``.dockerconfigjson`` with a fresh ECR token and the expiry ECR gives it
        (``expiresAt``, 12 hours after issue)."""
        found, expires_at = self._token()
        return PullSecret(payload=docker_config([found]), expires_at=expires_at)

    def _token(self) -> tuple[RegistryCredentials, datetime.datetime | None]:
        with self._access.call("getting an ECR authorization token"):
            data = self._ecr().get_authorization_token()["authorizationData"][0]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        if not password:
            raise AuthError("ECR returned an authorization token without a password")
        server = str(data["proxyEndpoint"]).removeprefix("https://").removeprefix("http://")
        found = RegistryCredentials(server=server, username=user, password=password)
        return found, _aware(data.get("expiresAt"))

    def digest_of(self, repository: str, reference: str) -> str | None:
        """The digest of ``repository:reference`` (a tag, or a ``sha256:`` digest) as ECR's
        ``DescribeImages`` gives it (an image's manifest or an index); None when the image or
        the repository is absent."""
        key = "imageDigest" if reference.startswith("sha256:") else "imageTag"
        found = self._access.unless_absent(
            f"looking up {repository}:{reference}",
            lambda: self._ecr().describe_images(
                repositoryName=repository, imageIds=[{key: reference}]
            ),
            *_MISSING,
        )
        details = found.get("imageDetails") if found else None
        return str(details[0]["imageDigest"]) if details else None

    def delete_image(self, repository: str, tag: str) -> None:
        """Delete ``repository:tag``; a missing image or repository is a no-op."""
        self._access.unless_absent(
            f"deleting {repository}:{tag}",
            lambda: self._ecr().batch_delete_image(
                repositoryName=repository, imageIds=[{"imageTag": tag}]
            ),
            *_MISSING,
        )

    def _ecr(self) -> Any:
        return self._access.client("ecr", region=self.spec.region)

    def _mutability(self) -> str:
        return "IMMUTABLE" if self.spec.immutable_tags else "MUTABLE"

    def _create(self, full: str) -> dict[str, Any]:
        with self._access.call(f"creating the ECR repository {full}"):
            answer = self._ecr().create_repository(
                repositoryName=full,
                imageTagMutability=self._mutability(),
                imageScanningConfiguration={"scanOnPush": self.spec.scan_on_push},
                tags=[{"Key": "managed-by", "Value": "qengine"}],
            )
        repository: dict[str, Any] = answer["repository"]
        return repository

    def _correct(self, full: str, repository: dict[str, Any]) -> None:
        ecr = self._ecr()
        with self._access.call(f"correcting the settings of the ECR repository {full}"):
            if repository.get("imageTagMutability") != self._mutability():
                ecr.put_image_tag_mutability(
                    repositoryName=full, imageTagMutability=self._mutability()
                )
            scanning = repository.get("imageScanningConfiguration", {}).get("scanOnPush")
            if scanning != self.spec.scan_on_push:
                ecr.put_image_scanning_configuration(
                    repositoryName=full,
                    imageScanningConfiguration={"scanOnPush": self.spec.scan_on_push},
                )

    def _ensure_lifecycle(self, full: str) -> None:
        wanted = lifecycle_policy(self.spec.keep_last)
        found = self._access.unless_absent(
            f"reading the lifecycle policy of {full}",
            lambda: self._ecr().get_lifecycle_policy(repositoryName=full),
            "LifecyclePolicyNotFoundException",
        )
        if found is not None and json.loads(found["lifecyclePolicyText"]) == wanted:
            return
        with self._access.call(f"setting the lifecycle policy of {full}"):
            self._ecr().put_lifecycle_policy(
                repositoryName=full, lifecyclePolicyText=json.dumps(wanted)
            )


def _aware(value: object) -> datetime.datetime | None:
    """``expiresAt`` as an aware time (botocore gives one; a naive one is UTC)."""
    if not isinstance(value, datetime.datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)
