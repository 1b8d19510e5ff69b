"""Amazon ECR as a :class:`~qengine.interfaces.ContainerRegistry`.

Repositories are named ``<prefix>/<name>`` and made on demand with the spec's settings:
immutable tags (when asked), scan on push, and a lifecycle policy that expires all but the
last ``keep_last`` images. An existing repository is corrected to those settings, so calling
:meth:`EcrContainerRegistry.ensure_repository` twice changes nothing the second time.
Credentials are ECR's short-lived authorization token (12 hours), never a stored password.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from qengine._errors import AuthError
from qengine.interfaces.registry import ContainerRegistry, RegistryCredentials
from qengine_aws.credentials import AwsAccess
from qengine_aws.spec import EcrRegistry

_MISSING = ("RepositoryNotFoundException", "ImageNotFoundException")


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
    """ECR repositories in ``spec.region`` of the account ``access`` acts as."""

    kind = "ecr"

    def __init__(self, spec: EcrRegistry, access: AwsAccess) -> None:
        self.spec = spec
        self._access = access

    def repository_name(self, name: str) -> str:
        """The full repository name of ``name`` (under the spec's prefix)."""
        return f"{self.spec.prefix.strip('/')}/{name}" if self.spec.prefix else name

    def ensure_repository(self, name: str) -> str:
        """Create or correct the repository; return its URI (``<registry>/<prefix>/<name>``)."""
        full = self.repository_name(name)
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
        with self._access.call("getting an ECR authorization token"):
            data = self._ecr().get_authorization_token()["authorizationData"][0]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        if not password:
            raise AuthError("ECR returned an authorization token without a password")
        server = str(data["proxyEndpoint"]).removeprefix("https://").removeprefix("http://")
        return RegistryCredentials(server=server, username=user, password=password)

    def image_exists(self, repository: str, tag: str) -> bool:
        """True if ``repository:tag`` has a manifest (an image or an index)."""
        full = self.repository_name(repository)
        found = self._access.unless_absent(
            f"looking up {full}:{tag}",
            lambda: self._ecr().describe_images(repositoryName=full, imageIds=[{"imageTag": tag}]),
            *_MISSING,
        )
        return bool(found and found.get("imageDetails"))

    def delete_image(self, repository: str, tag: str) -> None:
        """Delete ``repository:tag``; a missing image or repository is a no-op."""
        full = self.repository_name(repository)
        self._access.unless_absent(
            f"deleting {full}:{tag}",
            lambda: self._ecr().batch_delete_image(
                repositoryName=full, imageIds=[{"imageTag": tag}]
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
