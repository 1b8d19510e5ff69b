"""Where the Kubernetes engine meets the build and registry plugins.

**Build steps.** By convention a build plugin contributes, for each ``application`` service of
a deploy job, a step with id ``build/<service>`` whose outputs hold ``image`` (the reference to
run). When the job has a ``build`` section, the deploy step of an application depends on that
step and renders its workload with ``ctx.input("build/<service>", "image")``. An application in
a job without a ``build`` section is refused by :mod:`qengine_kubernetes.checks`.

**Pull credentials.** Step outputs are journalled, so they never carry credentials. When the
job's ``registry`` section says the cluster needs a pull Secret
(:attr:`~qengine.spec.RegistrySpec.needs_pull_secret`), the deploy step of an application
asks the job's container registry (``services.container_registry()``, the
:class:`~qengine.plugin.ContainerRegistry` its plugin registered) for the ``.dockerconfigjson``
of an imagePullSecret while it runs: the registry opens its password or asks for a token then,
never while the job is planned. A plan, an export and the stored history carry
:func:`placeholder_payload` instead.

A registry whose credential is a password (no ``pull_secret_lifetime``) is rendered with its
payload, which enters the secret hash: a new password rolls the pods. A registry whose
credential is a short-lived token is rendered with :func:`placeholder_payload` in every render
and written by :mod:`qengine_kubernetes.pulltoken` only when its token nears its expiry. This
module imports no registry plugin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from qengine.plugin import PluginError
from qengine.runner import StepContext
from qengine.spec import ApplicationService, EnvAction, EnvironmentJob, SecretRef
from qengine_kubernetes.placeholders import registry_pull_token, secret_token
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
    return job.registry is not None and job.registry.needs_pull_secret


def renews_pull_token(job: EnvironmentJob) -> bool:
    """Whether the cluster pulls from the job's registry with a short-lived token, written
    again before it expires (:mod:`qengine_kubernetes.pulltoken`)."""
    registry = job.registry
    return (
        registry is not None and registry.needs_pull_secret and bool(registry.pull_secret_lifetime)
    )


def placeholder_payload(job: EnvironmentJob) -> str | None:
    """A ``.dockerconfigjson`` of the job's registry with a placeholder for its password, for a
    plan, an export or the stored history (for a token registry, one placeholder for the
    whole payload, in every render); None without credentials."""
    if renews_pull_token(job):
        return registry_pull_token()
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
    opens its password); None without credentials. A token registry's is its placeholder:
    :mod:`qengine_kubernetes.pulltoken` writes the token when the Secret needs it."""
    if renews_pull_token(job):
        return registry_pull_token()
    registry = services.container_registry() if has_pull_credentials(job) else None
    return None if registry is None else registry.pull_secret_payload().decode()
