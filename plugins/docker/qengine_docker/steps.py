"""The docker plugin's steps: the shared build pipeline wired to the Docker Engine API and the
job's ``oci`` registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from qengine_oci.builds import oci_wiring
from qengine_oci.spec import OciRegistry

from qengine.runner import Step
from qengine.runner.steps import StepContext
from qengine.secrets.value import SecretValue
from qengine.source.pipeline import build_steps
from qengine.spec import EnvironmentJob
from qengine_docker.backend import DockerBackend
from qengine_docker.spec import DockerBuild


def steps_for(
    job: EnvironmentJob,
    build: DockerBuild,
    registry: OciRegistry,
    open_secret: Callable[[str], SecretValue],
    settings: Mapping[str, object],
) -> list[Step]:
    """``build/<service>`` steps for ``job``. ``settings`` may hold ``temp_base`` (checkouts)
    and ``host`` (overrides the section's engine address, e.g. for tests)."""
    temp = settings.get("temp_base")
    temp_base = Path(str(temp)) if temp else None
    host = str(settings.get("host") or build.host or "") or None

    def make_backend(ctx: StepContext) -> DockerBackend:
        return DockerBackend(on_line=ctx.emit_log, host=host)

    wiring = oci_wiring(
        registry,
        open_secret,
        make_backend,
        platform=build.platform,
        cache_repository=None,
        temp_base=temp_base,
    )
    return build_steps(job, wiring)
