"""What every step of one environment job shares: the job, its services, one cluster client."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from qengine.spec import ApplicationService, EnvironmentJob, Service
from qengine_kubernetes import builds
from qengine_kubernetes.access import ClusterCell
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.hashkey import environment_hash_key
from qengine_kubernetes.placeholders import REGISTRY_PULL, registry_pull_token, secret_token
from qengine_kubernetes.render import RenderedService, render_service
from qengine_kubernetes.render.context import Routing, routing_of
from qengine_kubernetes.render.names import namespace_name
from qengine_kubernetes.settings import KubeSettings

if TYPE_CHECKING:
    from qengine.plugin import JobServices


@attrs.frozen(kw_only=True)
class EnvJob:
    """One environment job as its steps see it: the job, its services, the plugin's settings
    and the job's one cluster client."""

    job: EnvironmentJob
    services: JobServices = attrs.field(repr=False)
    settings: KubeSettings
    cell: ClusterCell = attrs.field(repr=False)
    # The secret-hash key, read (or made) once per job by the first step that needs it.
    _hash_key: list[bytes] = attrs.field(factory=list, repr=False, eq=False, alias="_hash_key")
    _hash_key_lock: threading.Lock = attrs.field(
        factory=threading.Lock, repr=False, eq=False, alias="_hash_key_lock"
    )

    @classmethod
    def of(cls, job: EnvironmentJob, services: JobServices, settings: KubeSettings) -> EnvJob:
        """The shared context of ``job``; the cluster is reached on first use."""
        return cls(
            job=job, services=services, settings=settings, cell=ClusterCell(job.target, settings)
        )

    @property
    def namespace(self) -> str:
        """The environment's namespace."""
        return namespace_name(self.job.environment)

    @property
    def routing(self) -> Routing:
        """What the cluster serves routers with (the target's ``routing``)."""
        return routing_of(self.job.target)

    def api(self) -> KubeApi:
        """The job's cluster client."""
        return self.cell.api()

    def service(self, name: str) -> Service:
        """The spec of service ``name``."""
        for service in self.job.environment.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def render(self, name: str, images: Mapping[str, str] | None = None) -> RenderedService:
        """Service ``name`` rendered with its real secret values and, for an application, the
        registry's pull Secret (inside a step only). ``images``: the built images. The
        secret-hash annotation is keyed with the environment's key (:mod:`.hashkey`)."""
        pull = None
        if isinstance(self.service(name), ApplicationService):
            pull = builds.pull_payload(self.job, self.services)
        return render_service(
            self.job.environment,
            name,
            open_secret=self.open_secret,
            images=images,
            hash_key=self.hash_key(),
            registry_pull=pull,
            routing=self.routing,
        )

    def hash_key(self) -> bytes:
        """The environment's secret-hash key, from its Secret in the cluster (inside a step)."""
        with self._hash_key_lock:
            if not self._hash_key:
                self._hash_key.append(
                    environment_hash_key(self.api(), self.namespace, self.job.environment)
                )
            return self._hash_key[0]

    def render_public(self, name: str, images: Mapping[str, str] | None = None) -> RenderedService:
        """Service ``name`` rendered with placeholders for secret values."""
        return render_service(
            self.job.environment,
            name,
            open_secret=secret_token,
            images=images,
            registry_pull=builds.placeholder_payload(self.job),
            routing=self.routing,
        )

    def open_secret(self, name: str) -> str:
        """A secret's value (inside a step only). The placeholder of a token registry's pull
        payload stays as it is: :mod:`.pulltoken` writes that Secret when it needs it."""
        if name == REGISTRY_PULL:
            return registry_pull_token()
        value: str = self.services.secrets.open(name).reveal()
        return value
