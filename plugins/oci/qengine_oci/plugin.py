"""Hook implementations of qengine-oci: the ``oci`` registry kind and the checks of its section.

The engine builds :class:`~qengine_oci.registry.OciContainerRegistry` with the job's
``registry`` section and services when a step needs the registry (the build steps, a deploy
step's pull secret); its module is imported only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qengine import InvalidInputError, SpecIssue, hookimpl

if TYPE_CHECKING:
    from qengine.plugin import ContainerRegistry, JobServices, Registry
    from qengine.spec import Job
    from qengine_oci.spec import OciRegistry


def _registry(section: OciRegistry, services: JobServices) -> ContainerRegistry:
    from qengine_oci.registry import OciContainerRegistry

    return OciContainerRegistry(section, services)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``oci`` container registry kind."""
    registry.add_registry(
        "oci",
        "qengine_oci.spec:OciRegistry",
        _registry,
        "any OCI Distribution registry (basic or token auth)",
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """An ``oci`` section's URL is http(s) and its repository prefix a valid (lower-case) path."""
    section = job.registry
    if section is None or section.kind != "oci":
        return []  # the section class is imported only for a job with an oci registry
    from qengine.source.references import parse_image
    from qengine_oci.spec import OciRegistry

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
