"""The build steps of an environment job's ``application`` services, whatever builds them.

:meth:`qengine.Engine.plan` calls :func:`build_steps` for a job with a ``build`` section. The
job's ``build`` section names the :class:`~qengine.interfaces.BuildBackend` and its
``registry`` section the :class:`~qengine.interfaces.ContainerRegistry`; the engine builds
both through the factories their plugins registered (``services.build_backend()``,
``services.container_registry()``). A build plugin therefore provides a backend and nothing
else: the steps, the source fetch, the image identity, the registry lookup, the timeout and the
cache repository are the same for every backend.

One step per service, id ``build/<service name>``, output ``image`` (``host/repo:tag``, the
reference a deploy step uses) and ``digest`` (``sha256:...``), plus ``built`` (``true`` or
``false``). The step:

1. computes the tag from the commit, Dockerfile path, build arguments, target and platform
   (:func:`~qengine.source.identity.image_tag`);
2. asks the registry for that tag; if it is there, stops (no fetch, no build);
3. makes sure the repository exists, fetches the commit into a private temporary directory,
   checks the build context and Dockerfile stay inside it, builds and pushes with the
   backend, and removes the checkout.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from qengine._errors import SpecError
from qengine.interfaces.build import BuildBackend, BuildRequest
from qengine.interfaces.registry import ContainerRegistry
from qengine.runner.steps import ChangeAction, Step, StepContext
from qengine.secrets.hygiene import private_tempdir
from qengine.secrets.value import SecretValue
from qengine.source.git import GitAuth, fetch_commit
from qengine.source.identity import image_tag
from qengine.source.paths import inside_checkout
from qengine.source.references import parse_image
from qengine.source.settings import BUILD_SETTINGS, BuildSettings
from qengine.spec import (
    ApplicationService,
    BuildSpec,
    EnvAction,
    EnvironmentJob,
    SecretRef,
    parse_duration,
)
from qengine.spec._checks import missing_registry

if TYPE_CHECKING:
    from qengine._services import JobServices

STEP_PREFIX = "build/"
#: Time a build step has beyond the service's ``build_timeout``: the fetch and the lookups.
STEP_MARGIN_SECONDS = 600.0


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


def build_steps(job: EnvironmentJob, services: JobServices) -> list[Step]:
    """One ``build/<name>`` step per application service of ``job``; runs nothing.

    ``services`` are the job's. A job with a ``build`` section and no ``registry`` section is
    refused by the spec's checks already (``qengine validate``, exit 2); one that reaches here
    unchecked gets the same :class:`~qengine.SpecError` (``$.registry``).
    """
    build = job.build
    chosen = application_services(job)
    if build is None or not chosen:
        return []
    issue = missing_registry(job)
    if issue is not None:
        raise SpecError([issue])
    backend = services.build_backend()
    registry = services.container_registry()
    assert backend is not None  # the job has a build section
    assert registry is not None  # and a registry section, checked above
    settings = services.settings_for(BUILD_SETTINGS, BuildSettings) or BuildSettings()
    return [
        Step(
            id=f"{STEP_PREFIX}{service.name}",
            run=_BuildRun(
                service=service,
                build=build,
                backend=backend,
                registry=registry,
                open_secret=services.secrets.open,
                temp_base=settings.temp_base,
            ),
            description=f"build the image of {service.name} at {service.git.commit[:12]}",
            timeout=parse_duration(service.build_timeout) + STEP_MARGIN_SECONDS,
            content_hash=_content_hash(service, build),
        )
        for service in chosen
    ]


def _content_hash(service: ApplicationService, build: BuildSpec) -> str:
    plain = {k: v for k, v in service.build_args.items() if isinstance(v, str)}
    content = "\0".join(
        (
            service.git.url,
            service.git.commit,
            _dockerfile_path(service),
            repr(sorted(plain.items())),
            repr(sorted(k for k, v in service.build_args.items() if isinstance(v, SecretRef))),
            str(service.build_target),
            str(build.platform),
        )
    )
    return hashlib.sha256(content.encode()).hexdigest()


def _dockerfile_path(service: ApplicationService) -> str:
    root = service.git.root_path or "."
    return posixpath.normpath(posixpath.join(root, service.dockerfile_path))


@attrs.frozen(kw_only=True)
class _BuildRun:
    service: ApplicationService
    build: BuildSpec
    backend: BuildBackend
    registry: ContainerRegistry
    open_secret: Callable[[str], SecretValue]
    temp_base: Path | None

    def __call__(self, ctx: StepContext) -> Mapping[str, str]:
        service, registry = self.service, self.registry
        args: dict[str, str | SecretValue] = {
            name: self.open_secret(value.secret) if isinstance(value, SecretRef) else value
            for name, value in service.build_args.items()
        }
        dockerfile = _dockerfile_path(service)
        tag = image_tag(
            commit=service.git.commit,
            dockerfile=dockerfile,
            build_args=args,
            target=service.build_target,
            platform=self.build.platform,
        )
        repository = registry.repository_of(service.name)
        image = f"{registry.host}/{repository}:{tag}"
        parse_image(image)  # an invalid name fails here, before the registry is asked
        existing = registry.digest_of(repository, tag)
        if existing is not None:
            ctx.emit_progress(f"{image} is already in the registry; nothing to build", image=image)
            return {"image": image, "digest": existing, "built": "false"}
        registry.ensure_repository(service.name)
        digest = self._build(ctx, image, args, dockerfile)
        ctx.emit_resource_changed(ChangeAction.CREATE, "image", image)
        return {"image": image, "digest": digest, "built": "true"}

    def _build(
        self, ctx: StepContext, image: str, args: dict[str, str | SecretValue], dockerfile: str
    ) -> str:
        service, registry = self.service, self.registry
        git = service.git
        auth = GitAuth(
            token=self.open_secret(git.token.secret) if git.token else None,
            ssh_key=self.open_secret(git.ssh_key.secret) if git.ssh_key else None,
        )
        with private_tempdir(f"source-{service.name}", base=self.temp_base) as work:
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
                temp_base=self.temp_base,
            )
            cache = f"{registry.host}/{self.build.cache}" if self.build.cache else None
            request = BuildRequest(
                context=inside_checkout(checkout, git.root_path or ".", what="build context"),
                dockerfile=inside_checkout(checkout, dockerfile, what="Dockerfile"),
                image=image,
                build_args={k: v for k, v in args.items() if isinstance(v, str)},
                secret_args={k: v for k, v in args.items() if isinstance(v, SecretValue)},
                target=service.build_target,
                platform=self.build.platform,
                timeout_seconds=parse_duration(service.build_timeout),
                cache_from=cache,
                cache_to=cache,
                tls_verify=registry.tls_verify,
                ca_pem=registry.ca_pem,
            )
            ctx.emit_progress(f"building {image}")
            built = self.backend.build_and_push(
                request, registry.credentials(), ctx.cancel, ctx.emit_log
            )
        return built.digest
