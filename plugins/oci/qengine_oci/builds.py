"""What every build plugin that pushes to an ``oci`` registry shares: the check that the job
has such a registry section, and the wiring of the core build pipeline to it.

Imported by the build plugins (buildah, docker) only inside their hooks, so loading a plugin
stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from qengine import SpecIssue
from qengine.spec import BuildSpec, EnvironmentJob, Job
from qengine_oci.spec import OciRegistry

if TYPE_CHECKING:
    from qengine.interfaces import BuildBackend
    from qengine.runner.steps import StepContext
    from qengine.secrets.value import SecretValue
    from qengine.source.pipeline import BuildWiring
    from qengine_oci.registry import OciContainerRegistry


def missing_registry(job: Job, build_type: type[BuildSpec]) -> list[SpecIssue]:
    """The issue of a job built by ``build_type`` that has no ``oci`` registry to push to."""
    if not isinstance(job, EnvironmentJob) or not isinstance(job.build, build_type):
        return []
    if isinstance(job.registry, OciRegistry):
        return []
    message = f"a {job.build.kind} build pushes to an 'oci' registry section, and the job has none"
    return [SpecIssue(path="$.registry", message=message)]


def registry_of(job: Job, build_type: type[BuildSpec]) -> OciRegistry | None:
    """The ``oci`` registry a job built by ``build_type`` pushes to, or None if it is not one."""
    if not isinstance(job, EnvironmentJob) or not isinstance(job.build, build_type):
        return None
    return job.registry if isinstance(job.registry, OciRegistry) else None


def oci_wiring(
    registry: OciRegistry,
    open_secret: Callable[[str], SecretValue],
    backend: Callable[[StepContext], BuildBackend],
    *,
    platform: str | None,
    cache_repository: str | None,
    temp_base: Path | None,
) -> BuildWiring:
    """The build pipeline wired to ``registry``; its password is opened inside a step only."""
    from qengine.source.pipeline import BuildWiring

    def make_registry() -> OciContainerRegistry:
        from qengine_oci.registry import OciContainerRegistry

        password = open_secret(registry.password.secret) if registry.password else None
        return OciContainerRegistry(registry, password)

    return BuildWiring(
        open_secret=open_secret,
        registry=make_registry,
        backend=backend,
        tls_verify=not registry.insecure,
        ca_pem=registry.ca_certificate,
        platform=platform,
        cache_repository=cache_repository,
        temp_base=temp_base,
    )
