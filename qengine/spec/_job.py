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
    """The organization the job belongs to; its id salts the organization's keys.

    :ivar id: The organization's id; it salts the organization's keys, so a sealed job opens
        only in its organization.
    """

    id: Identifier


@attrs.frozen(kw_only=True)
class Actor:
    """Who asked for the job: a pseudonymous id, never a name or an e-mail address.

    :ivar id: The actor's pseudonymous id (an e-mail address is refused).
    """

    id: Identifier


@attrs.frozen(kw_only=True)
class WrappedDataKey:
    """The job's data key, wrapped by a key provider's key ``key_id`` at ``version``.

    :ivar provider: The key provider that wrapped the data key (e.g. ``local``).
    :ivar key_id: The provider's key that wrapped the data key.
    :ivar version: The version of that key.
    :ivar ciphertext: The wrapped data key (base64).
    """

    provider: str
    key_id: str
    version: int
    ciphertext: str


@attrs.frozen(kw_only=True)
class Secrets:
    """The sealed secrets of the job: AES-256-GCM ciphertexts under the wrapped data key.

    :ivar data_key: The job's data key, wrapped by a key provider.
    :ivar sealed: Each secret's name and its AES-256-GCM ciphertext under the data key (base64);
        ``qengine seal`` writes them.
    """

    data_key: WrappedDataKey
    sealed: Mapping[SecretName, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Signature:
    """An Ed25519 signature over the canonical JSON of the job without this field.

    :ivar key_id: The id of the Ed25519 key that signed the job.
    :ivar alg: The signature algorithm: always ``ed25519``.
    :ivar value: The signature (base64) over the canonical JSON (RFC 8785) of the job without
        ``signature``.
    """

    key_id: str
    alg: Literal["ed25519"] = "ed25519"
    value: str


@attrs.frozen(kw_only=True)
class JobBase:
    """What every job carries: identity, ownership, freshness, secrets and signature.

    :ivar api_version: The spec version: ``qengine.dev/v1`` (written ``apiVersion``).
    :ivar id: The job's id: the key of its journal entry, so a rerun of the same id resumes it.
    :ivar organization: The organization the job belongs to.
    :ivar actor: Who asked for the job.
    :ivar created_at: When the job was made (RFC 3339); a signed job created too far in the
        future is refused.
    :ivar not_after: When the job expires (RFC 3339): a later run is refused. Must be later than
        ``created_at``.
    :ivar max_parallel: How many steps may run at once, 1 to 64.
    :ivar secrets: The sealed secrets the job's ``{"secret": name}`` references open.
    :ivar signature: The job's signature; a host that requires signed jobs refuses one without.
    """

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

    :ivar manage: Whether qengine manages the add-ons; false leaves the cluster's add-ons alone
        (a stack installed by other means): none is installed, upgraded or removed, and no other
        field may be given with it.
    :ivar cert_manager: cert-manager and the ClusterIssuers ``letsencrypt`` and
        ``letsencrypt-staging`` (with ``acme_challenge`` ``http01``, through the ingress
        controller, so it needs ``ingress``).
    :ivar acme_challenge: How the ClusterIssuers prove control of a name to Let's Encrypt:
        ``http01`` through the ingress controller, or ``dns01`` through the job's ``dns`` zone
        (wildcard hosts, clusters whose ingress the internet cannot reach), with a short-lived
        cloud identity for cert-manager that the cluster's blueprint makes (never a key).
    :ivar external_dns: external-dns writing the records of the job's ``dns`` zone; unset, it
        follows whether the job has a ``dns`` section.
    :ivar ingress: The ingress controller (Traefik, serving Ingresses of class ``nginx`` and
        their ingress-nginx annotations).
    :ivar metrics_server: Resource metrics for autoscaling.
    :ivar logs: Loki and the Grafana Alloy agent.
    :ivar metrics: kube-prometheus-stack.
    :ivar autoscaler: cluster-autoscaler, which grows and shrinks the node groups within their
        ranges, on a cloud whose node groups do not autoscale themselves (EKS); unset, it is on
        there when a node group's minimum is below its maximum. GKE and AKS autoscale their node
        pools themselves: a job for them may not set it, nor may a job on an ``existing``
        cluster (qengine does not own its nodes).
    :ivar chart_mirror: An ``oci://`` registry or ``https://`` chart repository that holds every
        chart of the freeze file under its own name and version (a mirror you control); unset,
        each chart comes from its upstream repository.
    """

    manage: bool = True
    cert_manager: bool = True
    acme_challenge: Literal["http01", "dns01"] = "http01"
    external_dns: bool | None = None
    ingress: bool = True
    metrics_server: bool = True
    logs: bool = False
    metrics: bool = False
    autoscaler: bool | None = None
    chart_mirror: str | None = None


@attrs.frozen(kw_only=True)
class ClusterSpec:
    """A cluster to create or manage; ``provider`` is the cloud plugin's section.

    :ivar id: The cluster's id: it tags every cloud resource of the cluster.
    :ivar name: The cluster's name, a DNS label.
    :ivar kubernetes_version: The Kubernetes minor version, e.g. ``1.31``.
    :ivar provider: The cloud provider's settings, selected by ``kind``.
    :ivar addons: The add-on stack installed on the cluster.
    """

    id: Identifier
    name: DnsLabel
    kubernetes_version: KubernetesVersion
    provider: ProviderSpec
    addons: Addons = attrs.field(factory=Addons)


@attrs.frozen(kw_only=True)
class InfrastructureJob(JobBase):
    """Create, upgrade, pause, resume or delete a cluster and its add-ons.

    :ivar kind: ``InfrastructureJob``.
    :ivar action: What to do to the cluster: create, upgrade, pause, resume or delete.
    :ivar cluster: The cluster.
    :ivar dns: The DNS provider whose zone the cluster's external-dns writes records in.
    :ivar registry: A container registry the cluster may pull from.
    :ivar allow_destructive_changes: Whether an upgrade may replace or delete resources (a node
        group of a new instance type, a cluster setting that forces a new cluster); without it
        such a plan is refused.
    """

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
    """Caps for the environment's namespace (a ResourceQuota and a LimitRange).

    :ivar cpu: The most CPU all pods of the environment may request, as a quantity.
    :ivar memory: The most memory all pods of the environment may request, as a quantity.
    :ivar pods: The most pods the environment may run.
    """

    cpu: Quantity | None = None
    memory: Quantity | None = None
    pods: int | None = None


@attrs.frozen(kw_only=True)
class Environment:
    """A set of services deployed together into one namespace.

    :ivar id: The environment's id: it labels every object of the environment.
    :ivar name: The environment's name, a DNS label; its namespace is derived from it.
    :ivar services: The services of the environment, each selected by its ``kind``.
    :ivar network_isolation: Whether the namespace refuses traffic from other namespaces (a
        NetworkPolicy); the ingress controller may still reach routed services.
    :ivar quota: Caps on what the environment's pods may request.
    :ivar delete_data: Whether deleting the environment or a service also deletes its volumes;
        without it the volumes are kept and a warning names each.
    """

    id: Identifier
    name: DnsLabel
    services: tuple[Service, ...] = ()
    network_isolation: bool = True
    quota: ResourceQuota | None = None
    delete_data: bool = False


@attrs.frozen(kw_only=True)
class EnvironmentJob(JobBase):
    """Deploy, pause, resume, restart or delete an environment (or some of its services).

    :ivar kind: ``EnvironmentJob``.
    :ivar action: What to do to the services: deploy, pause, resume, restart or delete.
    :ivar target: How the job reaches its cluster, selected by ``kind``.
    :ivar environment: The environment.
    :ivar services: The names of the services to act on (with what they depend on); empty: all
        of them.
    :ivar registry: The container registry built images are pushed to.
    :ivar build: The build backend that builds the ``application`` services' images.
    :ivar dns: The DNS provider that publishes the routers' host names.
    """

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
