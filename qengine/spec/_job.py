"""The two job families: infrastructure jobs and environment jobs."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Literal

import attrs

from qengine.spec._scalars import (
    DnsLabel,
    Identifier,
    KubernetesVersion,
    Quantity,
    SecretName,
    Timestamp,
)
from qengine.spec._sections import BuildSpec, DnsSpec, ProviderSpec, RegistrySpec, TargetSpec
from qengine.spec._services import Service

API_VERSION = "qengine.dev/v1"


@attrs.frozen(kw_only=True)
class Organization:
    """The organization the job belongs to; its id salts the organization's keys."""

    id: Identifier


@attrs.frozen(kw_only=True)
class Actor:
    """Who asked for the job: a pseudonymous id, never a name or an e-mail address."""

    id: Identifier


@attrs.frozen(kw_only=True)
class WrappedDataKey:
    """The job's data key, wrapped by a key provider's key ``key_id`` at ``version``."""

    provider: str
    key_id: str
    version: int
    ciphertext: str


@attrs.frozen(kw_only=True)
class Secrets:
    """The sealed secrets of the job: AES-256-GCM ciphertexts under the wrapped data key."""

    data_key: WrappedDataKey
    sealed: Mapping[SecretName, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Signature:
    """An Ed25519 signature over the canonical JSON of the job without this field."""

    key_id: str
    alg: Literal["ed25519"] = "ed25519"
    value: str


@attrs.frozen(kw_only=True)
class JobBase:
    """What every job carries: identity, ownership, freshness, secrets and signature."""

    api_version: Literal["qengine.dev/v1"]
    id: Identifier
    organization: Organization
    actor: Actor
    created_at: Timestamp | None = None
    not_after: Timestamp | None = None
    max_parallel: int = 4
    secrets: Secrets | None = None
    signature: Signature | None = None


class InfraAction(enum.StrEnum):
    """What an infrastructure job does to its cluster."""

    CREATE = "create"
    UPGRADE = "upgrade"
    PAUSE = "pause"
    RESUME = "resume"
    DELETE = "delete"


@attrs.frozen(kw_only=True)
class Addons:
    """The cluster's add-on stack, installed by ``create`` and ``upgrade`` as Helm releases in
    ``qengine-system`` at the versions of the engine's freeze file (see docs/addons.md); an
    add-on turned off is uninstalled by the next ``create`` or ``upgrade``.

    ``cert_manager``: cert-manager and the ClusterIssuers ``letsencrypt`` and
    ``letsencrypt-staging`` (ACME HTTP-01 through the ingress controller, so it needs
    ``ingress``). ``external_dns``: external-dns writing the records of the job's ``dns``
    zone; unset, it follows whether the job has a ``dns`` section. ``ingress``: the ingress
    controller (Traefik, serving Ingresses of class ``nginx`` and their ingress-nginx
    annotations). ``metrics_server``: resource metrics for autoscaling. ``logs``: Loki and
    the Grafana Alloy agent. ``metrics``: kube-prometheus-stack. ``chart_mirror``: an
    ``oci://`` registry or ``https://`` chart repository that holds every chart of the freeze
    file under its own name and version (a mirror you control); unset, each chart comes from
    its upstream repository. ``manage``: false leaves the cluster's add-ons alone (a stack
    installed by other means): no add-on is installed, upgraded or removed, and no other field
    may be given with it.
    """

    manage: bool = True
    cert_manager: bool = True
    external_dns: bool | None = None
    ingress: bool = True
    metrics_server: bool = True
    logs: bool = False
    metrics: bool = False
    chart_mirror: str | None = None


@attrs.frozen(kw_only=True)
class ClusterSpec:
    """A cluster to create or manage; ``provider`` is the cloud plugin's section."""

    id: Identifier
    name: DnsLabel
    kubernetes_version: KubernetesVersion
    provider: ProviderSpec
    addons: Addons = attrs.field(factory=Addons)


@attrs.frozen(kw_only=True)
class InfrastructureJob(JobBase):
    """Create, upgrade, pause, resume or delete a cluster and its add-ons."""

    kind: Literal["InfrastructureJob"]
    action: InfraAction
    cluster: ClusterSpec
    dns: DnsSpec | None = None
    registry: RegistrySpec | None = None
    allow_destructive_changes: bool = False


class EnvAction(enum.StrEnum):
    """What an environment job does to its services."""

    DEPLOY = "deploy"
    PAUSE = "pause"
    RESUME = "resume"
    RESTART = "restart"
    DELETE = "delete"


@attrs.frozen(kw_only=True)
class ResourceQuota:
    """Caps for the environment's namespace (a ResourceQuota and a LimitRange)."""

    cpu: Quantity | None = None
    memory: Quantity | None = None
    pods: int | None = None


@attrs.frozen(kw_only=True)
class Environment:
    """A set of services deployed together into one namespace."""

    id: Identifier
    name: DnsLabel
    services: tuple[Service, ...] = ()
    network_isolation: bool = True
    quota: ResourceQuota | None = None
    delete_data: bool = False


@attrs.frozen(kw_only=True)
class EnvironmentJob(JobBase):
    """Deploy, pause, resume, restart or delete an environment (or some of its services)."""

    kind: Literal["EnvironmentJob"]
    action: EnvAction
    target: TargetSpec
    environment: Environment
    services: tuple[DnsLabel, ...] = ()
    registry: RegistrySpec | None = None
    build: BuildSpec | None = None
    dns: DnsSpec | None = None


Job = InfrastructureJob | EnvironmentJob
"""Any job; the JSON ``kind`` selects the class."""

JOB_KINDS: dict[str, type[Job]] = {
    "InfrastructureJob": InfrastructureJob,
    "EnvironmentJob": EnvironmentJob,
}
