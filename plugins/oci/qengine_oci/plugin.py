"""Hook implementations of qengine-oci (registration only).

The factory returns :class:`~qengine_oci.registry.OciContainerRegistry`; a host builds it
with the job's ``OciRegistry`` section and the opened password secret.
"""

from __future__ import annotations

import importlib

from qengine import InvalidInputError, SpecIssue, hookimpl
from qengine._plugins import Registry
from qengine.source.references import parse_image
from qengine.spec import Job
from qengine_oci.spec import OciRegistry


def _registry_class() -> object:
    return importlib.import_module("qengine_oci.registry").OciContainerRegistry


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``oci`` container registry kind."""
    registry.add_registry(
        "oci", OciRegistry, _registry_class, "any OCI Distribution registry (basic or token auth)"
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """An ``oci`` section's URL is http(s) and its repository prefix a valid (lower-case) path."""
    section = job.registry
    if not isinstance(section, OciRegistry):
        return []
    issues = []
    if not section.url.startswith(("https://", "http://")):
        issues.append(SpecIssue(path="$.registry.url", message="must be an http(s) URL"))
    if section.repository_prefix:
        try:
            parse_image(f"registry.invalid/{section.repository_prefix.strip('/')}/x")
        except InvalidInputError as exc:
            issues.append(
                SpecIssue(
                    path="$.registry.repository_prefix",
                    message=f"is not a valid repository path: {exc.hint}",
                )
            )
    return issues
