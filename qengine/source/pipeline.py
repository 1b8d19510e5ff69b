"""The build steps of an environment job's ``application`` services, shared by every build
backend plugin.

One step per service, id ``build/<service name>``, output ``image`` (``host/repo:tag``, the
reference a deploy step uses) and ``digest`` (``sha256:...``), plus ``built`` (``true`` or
``false``). The step:

1. computes the tag from the commit, Dockerfile path, build arguments, target and platform
   (:func:`~qengine.source.identity.image_tag`);
2. asks the registry for that tag; if it is there, stops (no fetch, no build);
3. fetches the commit into a private temporary directory, checks the build context and
   Dockerfile stay inside it, builds and pushes with the backend, and removes the checkout.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import attrs

from qengine.interfaces.build import BuildBackend
from qengine.interfaces.registry import RegistryCredentials
from qengine.runner.steps import ChangeAction, Step, StepContext
from qengine.secrets.hygiene import private_tempdir
from qengine.secrets.value import SecretValue
from qengine.source.git import GitAuth, fetch_commit
from qengine.source.identity import image_tag
from qengine.source.paths import inside_checkout
from qengine.source.references import parse_image
from qengine.source.request import SourceBuildRequest
from qengine.spec import ApplicationService, EnvAction, EnvironmentJob, SecretRef
from qengine.spec._scalars import parse_duration

STEP_PREFIX = "build/"


class ImageStore(Protocol):
    """What the build steps need of a registry (the ``oci`` registry provides it)."""

    host: str

    def repository_of(self, name: str) -> str: ...

    def digest_of(self, repository: str, reference: str) -> str | None: ...

    def credentials(self) -> RegistryCredentials: ...


@attrs.frozen(kw_only=True)
class BuildWiring:
    """How a backend plugin plugs into the steps. Each callable runs inside a step.

    ``open_secret`` opens a sealed secret of the job; ``registry`` builds the job's registry;
    ``backend`` builds the backend for one step (given its context, for logs).
    """

    open_secret: Callable[[str], SecretValue]
    registry: Callable[[], ImageStore]
    backend: Callable[[StepContext], BuildBackend]
    tls_verify: bool = True
    ca_pem: str | None = None
    platform: str | None = None
    cache_repository: str | None = None
    temp_base: Path | None = None


def application_services(job: EnvironmentJob) -> list[ApplicationService]:
    """The application services a deploy job builds (all, or those named in ``services``)."""
    if job.action is not EnvAction.DEPLOY:
        return []
    chosen = set(job.services)
    return [
        service
        for service in job.environment.services
        if isinstance(service, ApplicationService) and (not chosen or service.name in chosen)
    ]


def build_steps(job: EnvironmentJob, wiring: BuildWiring) -> list[Step]:
    """One ``build/<name>`` step per application service of ``job``."""
    steps = []
    for service in application_services(job):
        dockerfile = _dockerfile_path(service)
        plain = {k: v for k, v in service.build_args.items() if isinstance(v, str)}
        content = "\0".join(
            (
                service.git.url,
                service.git.commit,
                dockerfile,
                repr(sorted(plain.items())),
                repr(sorted(k for k, v in service.build_args.items() if isinstance(v, SecretRef))),
                str(service.build_target),
                str(wiring.platform),
            )
        )
        steps.append(
            Step(
                id=f"{STEP_PREFIX}{service.name}",
                run=_BuildRun(service=service, wiring=wiring),
                description=f"build the image of {service.name} at {service.git.commit[:12]}",
                timeout=parse_duration(service.build_timeout) + 600.0,
                content_hash=hashlib.sha256(content.encode()).hexdigest(),
            )
        )
    return steps


def _dockerfile_path(service: ApplicationService) -> str:
    root = service.git.root_path or "."
    return posixpath.normpath(posixpath.join(root, service.dockerfile_path))


@attrs.frozen(kw_only=True)
class _BuildRun:
    service: ApplicationService
    wiring: BuildWiring

    def __call__(self, ctx: StepContext) -> Mapping[str, str]:
        service, wiring = self.service, self.wiring
        args: dict[str, str | SecretValue] = {
            name: wiring.open_secret(value.secret) if isinstance(value, SecretRef) else value
            for name, value in service.build_args.items()
        }
        dockerfile = _dockerfile_path(service)
        tag = image_tag(
            commit=service.git.commit,
            dockerfile=dockerfile,
            build_args=args,
            target=service.build_target,
            platform=wiring.platform,
        )
        registry = wiring.registry()
        repository = registry.repository_of(service.name)
        image = f"{registry.host}/{repository}:{tag}"
        parse_image(image)  # an invalid name fails here, before the registry is asked
        existing = registry.digest_of(repository, tag)
        if existing is not None:
            ctx.emit_progress(f"{image} is already in the registry; nothing to build", image=image)
            return {"image": image, "digest": existing, "built": "false"}
        digest = self._build(ctx, image, args, dockerfile, registry)
        ctx.emit_resource_changed(ChangeAction.CREATE, "image", image)
        return {"image": image, "digest": digest, "built": "true"}

    def _build(
        self,
        ctx: StepContext,
        image: str,
        args: dict[str, str | SecretValue],
        dockerfile: str,
        registry: ImageStore,
    ) -> str:
        service, wiring = self.service, self.wiring
        git = service.git
        auth = GitAuth(
            token=wiring.open_secret(git.token.secret) if git.token else None,
            ssh_key=wiring.open_secret(git.ssh_key.secret) if git.ssh_key else None,
        )
        with private_tempdir(f"source-{service.name}", base=wiring.temp_base) as work:
            checkout = work / "src"
            ctx.emit_progress(f"fetching {git.url} at {git.commit[:12]}")
            fetch_commit(
                git.url,
                git.commit,
                checkout,
                auth=auth,
                cancel=ctx.cancel,
                on_line=ctx.emit_log,
                submodules=git.submodules,
                lfs=git.lfs,
                temp_base=wiring.temp_base,
            )
            context = inside_checkout(checkout, git.root_path or ".", what="build context")
            request = SourceBuildRequest(
                context=context,
                dockerfile=inside_checkout(checkout, dockerfile, what="Dockerfile"),
                image=image,
                build_args={k: v for k, v in args.items() if isinstance(v, str)},
                secret_args={k: v for k, v in args.items() if isinstance(v, SecretValue)},
                target=service.build_target,
                platform=wiring.platform,
                timeout_seconds=parse_duration(service.build_timeout),
                cache_from=_cache(image, wiring),
                cache_to=_cache(image, wiring),
                tls_verify=wiring.tls_verify,
                ca_pem=wiring.ca_pem,
            )
            ctx.emit_progress(f"building {image}")
            built = wiring.backend(ctx).build_and_push(request, registry.credentials(), ctx.cancel)
        return built.digest


def _cache(image: str, wiring: BuildWiring) -> str | None:
    if not wiring.cache_repository:
        return None
    host = image.split("/", 1)[0]
    return f"{host}/{wiring.cache_repository}"
