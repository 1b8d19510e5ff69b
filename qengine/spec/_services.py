"""The service kinds an environment is made of, tagged by ``kind``."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Literal

import attrs

from qengine.spec._common import (
    Autoscaling,
    GitSource,
    PortSpec,
    Probe,
    Resources,
    SecretRef,
    Value,
    Volume,
    Workload,
)
from qengine.spec._scalars import (
    Cidr,
    CronSchedule,
    DnsLabel,
    DomainName,
    Duration,
    ImageDigest,
    ImageReference,
    ImageTag,
    Quantity,
    RelativePath,
    Url,
)
from qengine.spec._values import HelmValues


@attrs.frozen(kw_only=True)
class LongRunning(Workload):
    """A workload kept running: replicas, ports, probes, storage, autoscaling.

    :ivar ports: The ports the container listens on.
    :ivar replicas: How many copies run, 0 to 1000 (with autoscaling, the starting count).
    :ivar autoscaling: A horizontal autoscaler.
    :ivar readiness_probe: How to tell the container is ready for traffic.
    :ivar liveness_probe: How to tell the container is alive (restarted if not).
    :ivar volumes: Persistent volumes; a service with one runs as a StatefulSet.
    :ivar min_available: The fewest replicas a voluntary disruption (a node drain) may leave (a
        PodDisruptionBudget); unset, none.
    """

    ports: tuple[PortSpec, ...] = ()
    replicas: int = 1
    autoscaling: Autoscaling | None = None
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    volumes: tuple[Volume, ...] = ()
    min_available: int | None = None


@attrs.frozen(kw_only=True)
class ApplicationService(LongRunning):
    """An application built from git at a commit, then run like a container.

    :ivar kind: ``application``.
    :ivar git: The source to build.
    :ivar dockerfile_path: The Dockerfile, relative to the source's root path.
    :ivar build_args: Build arguments: each a string or a secret reference.
    :ivar build_target: The Dockerfile stage to build; unset, the last.
    :ivar build_timeout: How long the build may take.
    """

    kind: Literal["application"]
    git: GitSource
    dockerfile_path: RelativePath = RelativePath("Dockerfile")
    build_args: Mapping[str, Value] = attrs.field(factory=dict)
    build_target: str | None = None
    build_timeout: Duration = Duration("30m")


@attrs.frozen(kw_only=True)
class RegistryAuth:
    """Credentials to pull from a private registry; the password is a secret reference.

    :ivar username: The user name for the registry.
    :ivar password: A secret reference to the password or token.
    """

    username: str
    password: SecretRef


@attrs.frozen(kw_only=True)
class ContainerService(LongRunning):
    """A prebuilt image from a registry; ``tag`` or ``digest`` pins it.

    :ivar kind: ``container``.
    :ivar image: The image reference, e.g. ``ghcr.io/org/app``.
    :ivar tag: The image tag (not with a tag in ``image``).
    :ivar digest: The image digest (``sha256:...``), pinning the image exactly.
    :ivar registry_auth: Credentials to pull from a private registry.
    :ivar mirror: Whether the image is meant to be copied into the job's registry before it is
        deployed (no first-party plugin acts on it yet).
    """

    kind: Literal["container"]
    image: ImageReference
    tag: ImageTag | None = None
    digest: ImageDigest | None = None
    registry_auth: RegistryAuth | None = None
    mirror: bool = False


class DatabaseEngine(enum.StrEnum):
    """The database engines qengine knows how to run or provision."""

    POSTGRESQL = "postgresql"
    MYSQL = "mysql"
    MONGODB = "mongodb"
    REDIS = "redis"


class DatabaseMode(enum.StrEnum):
    """``container``: in the cluster, on a volume. ``managed``: by the cloud (a cloud plugin's)."""

    CONTAINER = "container"
    MANAGED = "managed"


@attrs.frozen(kw_only=True)
class DatabaseService:
    """A database; its credentials are secret references the engine hands to dependants.

    :ivar kind: ``database``.
    :ivar name: The service's name, a DNS label unique in the environment.
    :ivar engine: The database engine: postgresql, mysql, mongodb or redis.
    :ivar version: The engine's version, e.g. ``16``.
    :ivar mode: ``container``: run in the cluster on a volume; ``managed``: provided by the
        cloud (a cloud plugin's).
    :ivar storage: The size of the data volume, as a quantity.
    :ivar storage_class: The storage class of the data volume; unset, the cluster's default.
    :ivar resources: CPU and memory requests and limits.
    :ivar username: The user the engine creates; unset, the engine's default.
    :ivar password: A secret reference to the user's password (required for postgresql, mysql
        and mongodb in container mode).
    :ivar instance_type: The cloud instance type of a managed database.
    :ivar publicly_accessible: Whether a managed database is reachable from outside its network.
    :ivar depends_on: The names of services to deploy (and be ready) before this one.
    """

    kind: Literal["database"]
    name: DnsLabel
    engine: DatabaseEngine
    version: str
    mode: DatabaseMode = DatabaseMode.CONTAINER
    storage: Quantity = Quantity("10Gi")
    storage_class: DnsLabel | None = None
    resources: Resources = attrs.field(factory=Resources)
    username: str | None = None
    password: SecretRef | None = None
    instance_type: str | None = None
    publicly_accessible: bool = False
    depends_on: tuple[DnsLabel, ...] = ()


class JobTrigger(enum.StrEnum):
    """When a job runs."""

    ONCE = "once"
    BEFORE_START = "before_start"
    AFTER_START = "after_start"
    ON_DELETE = "on_delete"
    CRON = "cron"


class ConcurrencyPolicy(enum.StrEnum):
    """What a cron job does when the previous run is still going."""

    ALLOW = "Allow"
    FORBID = "Forbid"
    REPLACE = "Replace"


@attrs.frozen(kw_only=True)
class JobSchedule:
    """A job's trigger; ``cron`` (and the cron options) only for ``on: cron``.

    :ivar on: When the job runs: once, before_start, after_start, on_delete or cron.
    :ivar cron: The cron expression (five fields or a macro such as ``@daily``); only with ``on:
        cron``. It must be able to fire.
    :ivar timezone: The IANA time zone of the cron expression (e.g. ``Europe/Paris``); unset,
        the cluster's.
    :ivar concurrency_policy: What a cron job does when the previous run still goes: Allow,
        Forbid or Replace.
    :ivar successful_jobs_history: How many finished runs of a cron job are kept.
    :ivar failed_jobs_history: How many failed runs of a cron job are kept.
    """

    on: JobTrigger
    cron: CronSchedule | None = None
    timezone: str | None = None
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.FORBID
    successful_jobs_history: int = 3
    failed_jobs_history: int = 1


@attrs.frozen(kw_only=True)
class JobService(Workload):
    """A one-off, lifecycle-hook or cron job, from an image or built from git.

    A job may hand back outputs: a JSON object of string values written to
    ``/qengine/output/output.json``; names must match ``output_name_pattern``.

    :ivar kind: ``job``.
    :ivar schedule: When the job runs.
    :ivar image: The image reference (exactly one of ``image`` or ``git``).
    :ivar tag: The image tag.
    :ivar git: The source to build the image from (exactly one of ``image`` or ``git``).
    :ivar dockerfile_path: The Dockerfile, relative to the source's root path.
    :ivar max_restarts: How many times a failed run is retried.
    :ivar max_duration: How long a run may take before it is stopped and failed.
    :ivar output_name_pattern: The regular expression each output's name must match.
    """

    kind: Literal["job"]
    schedule: JobSchedule
    image: ImageReference | None = None
    tag: ImageTag | None = None
    git: GitSource | None = None
    dockerfile_path: RelativePath = RelativePath("Dockerfile")
    max_restarts: int = 0
    max_duration: Duration = Duration("10m")
    output_name_pattern: str = r"^[A-Z][A-Z0-9_]*$"


@attrs.frozen(kw_only=True)
class Route:
    """Requests under ``path`` go to ``service`` on ``port`` (its first public port if unset).

    :ivar path: The path prefix routed.
    :ivar service: The name of the service requests go to; it must have a port.
    :ivar port: The service's port; unset, its first public port.
    """

    path: str = "/"
    service: DnsLabel
    port: int | None = None


@attrs.frozen(kw_only=True)
class Tls:
    """TLS certificates, issued by cert-manager through ``issuer``.

    :ivar enabled: Whether the router serves HTTPS with a certificate.
    :ivar issuer: The cert-manager ClusterIssuer that issues the certificate.
    """

    enabled: bool = True
    issuer: str = "letsencrypt"


@attrs.frozen(kw_only=True)
class RouterService:
    """An ingress: host names and paths to services, with TLS and access controls.

    :ivar kind: ``router``.
    :ivar name: The service's name, a DNS label unique in the environment.
    :ivar domains: The host names served; ``*.`` starts a wildcard.
    :ivar routes: Path prefixes and the services they go to.
    :ivar tls: TLS certificates.
    :ivar allowed_source_ranges: The client networks allowed (CIDR); empty: any.
    :ivar basic_auth: A secret reference to an htpasswd file: HTTP basic authentication in front
        of every route.
    :ivar depends_on: The names of services to deploy (and be ready) before this one.
    """

    kind: Literal["router"]
    name: DnsLabel
    domains: tuple[DomainName, ...]
    routes: tuple[Route, ...]
    tls: Tls = attrs.field(factory=Tls)
    allowed_source_ranges: tuple[Cidr, ...] = ()
    basic_auth: SecretRef | None = None
    depends_on: tuple[DnsLabel, ...] = ()


@attrs.frozen(kw_only=True)
class HelmChart:
    """Where a chart comes from: exactly one of ``repository`` (HTTPS or ``oci://``) or ``path``.

    :ivar name: The chart's name.
    :ivar version: The chart's version; unset, the latest the repository serves.
    :ivar repository: The chart repository: HTTPS or ``oci://`` (exactly one of ``repository``
        or ``path``).
    :ivar path: The chart's directory inside the engine's chart root (exactly one of
        ``repository`` or ``path``).
    :ivar username: The user name for the repository.
    :ivar password: A secret reference to the repository's password.
    """

    name: str
    version: str | None = None
    repository: Url | None = None
    path: RelativePath | None = None
    username: str | None = None
    password: SecretRef | None = None


@attrs.frozen(kw_only=True)
class HelmService:
    """A Helm release of a chart, installed atomically into the environment's namespace.

    :ivar kind: ``helm``.
    :ivar name: The service's name, a DNS label unique in the environment; the release is named
        after it.
    :ivar chart: Where the chart comes from.
    :ivar values: The release's values; any value may be a secret reference.
    :ivar timeout: How long the install or upgrade may take.
    :ivar allow_cluster_wide_resources: Whether the chart may create objects outside the
        environment's namespace.
    :ivar depends_on: The names of services to deploy (and be ready) before this one.
    """

    kind: Literal["helm"]
    name: DnsLabel
    chart: HelmChart
    values: HelmValues = attrs.field(factory=HelmValues)
    timeout: Duration = Duration("10m")
    allow_cluster_wide_resources: bool = False
    depends_on: tuple[DnsLabel, ...] = ()


class TerraformAction(enum.StrEnum):
    """What a Terraform service does on deploy."""

    PLAN = "plan"
    APPLY = "apply"
    DESTROY = "destroy"


@attrs.frozen(kw_only=True)
class TerraformService:
    """A Terraform root module from git, run as a job in the cluster; outputs become outputs.

    :ivar kind: ``terraform``.
    :ivar name: The service's name, a DNS label unique in the environment.
    :ivar git: The repository holding the root module.
    :ivar root_module: The root module's directory in the repository; unset, its root.
    :ivar variables: Input variables: each a string or a secret reference.
    :ivar terraform_version: The Terraform version to run.
    :ivar action: What a deploy does: plan, apply or destroy.
    :ivar timeout: How long the run may take.
    :ivar depends_on: The names of services to deploy (and be ready) before this one.
    """

    kind: Literal["terraform"]
    name: DnsLabel
    git: GitSource
    root_module: RelativePath | None = None
    variables: Mapping[str, Value] = attrs.field(factory=dict)
    terraform_version: str = "1.11"
    action: TerraformAction = TerraformAction.APPLY
    timeout: Duration = Duration("30m")
    depends_on: tuple[DnsLabel, ...] = ()


Service = (
    ApplicationService
    | ContainerService
    | DatabaseService
    | JobService
    | RouterService
    | HelmService
    | TerraformService
)
"""Any service of an environment; the JSON ``kind`` selects the class."""

SERVICE_KINDS: dict[str, type[Service]] = {
    "application": ApplicationService,
    "container": ContainerService,
    "database": DatabaseService,
    "job": JobService,
    "router": RouterService,
    "helm": HelmService,
    "terraform": TerraformService,
}
