"""Building blocks shared by service kinds: secret references, ports, resources, probes."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from qengine.spec._scalars import (
    AbsolutePath,
    CommitSha,
    DnsLabel,
    EnvVarName,
    Port,
    Quantity,
    RelativePath,
    SecretName,
    Url,
)


@attrs.frozen(kw_only=True)
class SecretRef:
    """A reference to a sealed secret, written ``{"secret": "name"}`` wherever a value may be
    secret. The engine opens it only in the step that uses it."""

    secret: SecretName


Value = str | SecretRef
"""A plain string or a reference to a sealed secret."""


class Protocol(enum.StrEnum):
    """What a port speaks; routers only route HTTP and GRPC ports."""

    HTTP = "HTTP"
    GRPC = "GRPC"
    TCP = "TCP"
    UDP = "UDP"


@attrs.frozen(kw_only=True)
class PortSpec:
    """A port the service listens on; ``public`` ports may be routed by a router."""

    port: Port
    name: DnsLabel | None = None
    protocol: Protocol = Protocol.HTTP
    public: bool = False


@attrs.frozen(kw_only=True)
class Resources:
    """CPU and memory requests and limits, in Kubernetes quantity syntax."""

    cpu: Quantity | None = None
    memory: Quantity | None = None
    cpu_limit: Quantity | None = None
    memory_limit: Quantity | None = None


@attrs.frozen(kw_only=True)
class Autoscaling:
    """A horizontal autoscaler: between ``min_replicas`` and ``max_replicas`` by utilisation."""

    min_replicas: int = 1
    max_replicas: int
    cpu_target_percent: int | None = 70
    memory_target_percent: int | None = None


class ProbeType(enum.StrEnum):
    """How a probe checks the container."""

    HTTP = "http"
    TCP = "tcp"
    EXEC = "exec"
    GRPC = "grpc"


@attrs.frozen(kw_only=True)
class Probe:
    """A readiness or liveness probe; ``path`` is for http, ``command`` for exec."""

    type: ProbeType
    port: Port | None = None
    path: AbsolutePath | None = None
    command: tuple[str, ...] = ()
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    failure_threshold: int = 3


@attrs.frozen(kw_only=True)
class Volume:
    """Persistent storage mounted into the container; a service with one is a StatefulSet."""

    name: DnsLabel
    mount_path: AbsolutePath
    size: Quantity
    storage_class: DnsLabel | None = None


@attrs.frozen(kw_only=True)
class MountedFile:
    """A file mounted read-only into the container; ``content`` may be a secret reference."""

    path: AbsolutePath
    content: Value


@attrs.frozen(kw_only=True)
class GitSource:
    """Source code at exactly one commit. ``token`` and ``ssh_key`` are secret references."""

    url: Url
    commit: CommitSha
    branch: str | None = None
    root_path: RelativePath | None = None
    token: SecretRef | None = None
    ssh_key: SecretRef | None = None
    submodules: bool = False
    lfs: bool = False


@attrs.frozen(kw_only=True)
class Workload:
    """What every long-running or one-off container service has in common."""

    name: DnsLabel
    depends_on: tuple[DnsLabel, ...] = ()
    env: Mapping[EnvVarName, Value] = attrs.field(factory=dict)
    files: tuple[MountedFile, ...] = ()
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    resources: Resources = attrs.field(factory=Resources)
