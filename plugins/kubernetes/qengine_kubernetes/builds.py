"""Where the Kubernetes engine meets the build and registry plugins.

**Build steps.** By convention a build plugin contributes, for each ``application`` service of
a deploy job, a step with id ``build/<service>`` whose outputs hold ``image`` (the reference to
run). When the job has a ``build`` section, the deploy step of an application depends on that
step and renders its workload with ``ctx.input("build/<service>", "image")``. An application in
a job without a ``build`` section is refused by :mod:`qengine_kubernetes.checks`.

**Pull credentials.** Step outputs are journalled, so they never carry credentials. Instead,
when the job's ``registry`` section has a ``password`` (a secret reference), the deploy step of
an application asks the job's container registry (``services.container_registry()``, the
:class:`~qengine.plugin.ContainerRegistry` its plugin registered) for
``pull_secret_payload()``, the ``.dockerconfigjson`` of an imagePullSecret, while it runs:
the registry opens its password then, never while the job is planned. A plan, an export and
the stored history carry :func:`placeholder_payload` instead. This module imports no registry
plugin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from qengine.plugin import PluginError
from qengine.runner import StepContext
from qengine.spec import ApplicationService, EnvAction, EnvironmentJob, SecretRef
from qengine_kubernetes.placeholders import secret_token
from qengine_kubernetes.render.images import registry_host

if TYPE_CHECKING:
    from qengine.plugin import JobServices

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


def pull_payload(job: EnvironmentJob, services: JobServices) -> str | None:
    """The real ``.dockerconfigjson`` of the job's registry (inside a step only: the registry
    opens its password); None without credentials."""
    registry = services.container_registry() if has_pull_credentials(job) else None
    return None if registry is None else registry.pull_secret_payload().decode()
