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
    """A workload kept running: replicas, ports, probes, storage, autoscaling."""

    ports: tuple[PortSpec, ...] = ()
    replicas: int = 1
    autoscaling: Autoscaling | None = None
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    volumes: tuple[Volume, ...] = ()
    min_available: int | None = None


@attrs.frozen(kw_only=True)
class ApplicationService(LongRunning):
    """An application built from git at a commit, then run like a container."""

    kind: Literal["application"]
    git: GitSource
    dockerfile_path: RelativePath = RelativePath("Dockerfile")
    build_args: Mapping[str, Value] = attrs.field(factory=dict)
    build_target: str | None = None
    build_timeout: Duration = Duration("30m")


@attrs.frozen(kw_only=True)
class RegistryAuth:
    """Credentials to pull from a private registry; the password is a secret reference."""

    username: str
    password: SecretRef


@attrs.frozen(kw_only=True)
class ContainerService(LongRunning):
    """A prebuilt image from a registry; ``tag`` or ``digest`` pins it."""

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
    """A database; its credentials are secret references the engine hands to dependants."""

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
    """A job's trigger; ``cron`` (and the cron options) only for ``on: cron``."""

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
    """Requests under ``path`` go to ``service`` on ``port`` (its first public port if unset)."""

    path: str = "/"
    service: DnsLabel
    port: int | None = None


@attrs.frozen(kw_only=True)
class Tls:
    """TLS certificates, issued by cert-manager through ``issuer``."""

    enabled: bool = True
    issuer: str = "letsencrypt"


@attrs.frozen(kw_only=True)
class RouterService:
    """An ingress: host names and paths to services, with TLS and access controls."""

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
    """Where a chart comes from: exactly one of ``repository`` (HTTPS or ``oci://``) or ``path``."""

    name: str
    version: str | None = None
    repository: Url | None = None
    path: RelativePath | None = None
    username: str | None = None
    password: SecretRef | None = None


@attrs.frozen(kw_only=True)
class HelmService:
    """A Helm release of a chart, installed atomically into the environment's namespace."""

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
    """A Terraform root module from git, run as a job in the cluster; outputs become outputs."""

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
