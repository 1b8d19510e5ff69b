"""The buildah plugin's steps: the shared build pipeline wired to buildah and the job's
``oci`` registry."""

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
from qengine_buildah.backend import BuildahBackend
from qengine_buildah.spec import BuildahBuild


def steps_for(
    job: EnvironmentJob,
    build: BuildahBuild,
    registry: OciRegistry,
    open_secret: Callable[[str], SecretValue],
    settings: Mapping[str, object],
) -> list[Step]:
    """``build/<service>`` steps for ``job``. ``settings`` may hold ``temp_base`` (a path for
    the private temporary directories of checkouts and builds)."""
    temp = settings.get("temp_base")
    temp_base = Path(str(temp)) if temp else None

    def make_backend(ctx: StepContext) -> BuildahBackend:
        return BuildahBackend(on_line=ctx.emit_log, layers=build.layers, temp_base=temp_base)

    wiring = oci_wiring(
        registry,
        open_secret,
        make_backend,
        platform=build.platform,
        cache_repository=build.cache,
        temp_base=temp_base,
    )
    return build_steps(job, wiring)
