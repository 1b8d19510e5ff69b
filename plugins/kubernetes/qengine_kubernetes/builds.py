"""Where the Kubernetes engine meets the build and registry plugins.

**Build steps.** By convention a build plugin contributes, for each ``application`` service of
a deploy job, a step with id ``build/<service>`` whose outputs hold ``image`` (the reference to
run). When the job has a ``build`` section, the deploy step of an application depends on that
step and renders its workload with ``ctx.input("build/<service>", "image")``. An application in
a job without a ``build`` section is refused by :mod:`qengine_kubernetes.checks`.

**Pull credentials.** Step outputs are journalled, so they never carry credentials. Instead,
when the job's ``registry`` section has a ``password`` (a secret reference), the deploy step
builds the registry's implementation at run time through the registration the registry
plugin made (``services.registry.get("container registry", kind).factory()``), with the
contract that ``qengine-oci`` documents: the factory returns a class called as
``cls(section, password)``, ``password`` being the opened secret, whose instances have
``pull_secret_payload() -> bytes``, the ``.dockerconfigjson`` of an imagePullSecret. This
module imports no registry plugin.
"""

from __future__ import annotations

import json
from typing import Any

from qengine._errors import PluginError
from qengine.runner import StepContext
from qengine.spec import ApplicationService, EnvAction, EnvironmentJob, RegistrySpec, SecretRef
from qengine_kubernetes.placeholders import secret_token
from qengine_kubernetes.render.images import registry_host

BUILD_PREFIX = "build/"


def build_step_id(service: str) -> str:
    """The id of the build step of application ``service`` (the build plugins' convention)."""
    return f"{BUILD_PREFIX}{service}"


def builds_applications(job: EnvironmentJob) -> bool:
    """Whether a build plugin contributes ``build/<service>`` steps to ``job``."""
    return job.build is not None and job.action is EnvAction.DEPLOY


def built_images(job: EnvironmentJob, ctx: StepContext, name: str) -> dict[str, str]:
    """``{name: image}`` from the build step's outputs, when ``name`` is an application."""
    service = next(s for s in job.environment.services if s.name == name)
    if not isinstance(service, ApplicationService) or not builds_applications(job):
        return {}
    image = ctx.input(build_step_id(name), "image")
    if not image:
        raise PluginError(
            f"the build step of {name} gave no image",
            hint="The build plugin of the job's build kind must output `image`.",
        )
    return {name: image}


def _password(job: EnvironmentJob) -> SecretRef | None:
    password = getattr(job.registry, "password", None)
    return password if isinstance(password, SecretRef) else None


def has_pull_credentials(job: EnvironmentJob) -> bool:
    """Whether the job's registry has credentials the cluster needs to pull."""
    return job.registry is not None and _password(job) is not None


def placeholder_payload(job: EnvironmentJob) -> str | None:
    """A ``.dockerconfigjson`` of the job's registry with a placeholder for its password, for a
    plan, an export or the stored history; None without credentials."""
    password = _password(job)
    if job.registry is None or password is None:
        return None
    url = str(getattr(job.registry, "url", ""))
    host = registry_host(url.split("://", 1)[-1].rstrip("/") + "/x")
    entry = {"password": secret_token(password.secret), "username": _username(job)}
    return json.dumps({"auths": {host: entry}}, sort_keys=True, separators=(",", ":"))


def _username(job: EnvironmentJob) -> str:
    return str(getattr(job.registry, "username", "") or "")


def pull_payload(job: EnvironmentJob, services: Any) -> str | None:
    """The real ``.dockerconfigjson`` of the job's registry (inside a step only); None without
    credentials. Refuses a registry kind whose implementation cannot give one."""
    password = _password(job)
    if job.registry is None or password is None:
        return None
    kind = job.registry.kind
    registration = services.registry.get(RegistrySpec.family, kind)
    implementation = registration.factory()(job.registry, services.secrets.open(password.secret))
    payload = getattr(implementation, "pull_secret_payload", None)
    if payload is None:
        raise PluginError(
            f"the {kind!r} registry cannot give pull credentials to a cluster",
            hint="Use a registry kind whose implementation has pull_secret_payload().",
        )
    value: bytes = payload()
    return value.decode()
