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
    secret. The engine opens it only in the step that uses it.

    :ivar secret: The name of the sealed secret (a key of the job's ``secrets.sealed``).
    """

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
    """A port the service listens on; ``public`` ports may be routed by a router.

    :ivar port: The port number the container listens on.
    :ivar name: The port's name; unset, one is derived from the protocol and number.
    :ivar protocol: What the port speaks: HTTP, GRPC, TCP or UDP.
    :ivar public: Whether a router may route to the port.
    """

    port: Port
    name: DnsLabel | None = None
    protocol: Protocol = Protocol.HTTP
    public: bool = False


@attrs.frozen(kw_only=True)
class Resources:
    """CPU and memory requests and limits, in Kubernetes quantity syntax.

    :ivar cpu: The CPU requested, as a quantity (``250m``, ``1``).
    :ivar memory: The memory requested, as a quantity (``256Mi``).
    :ivar cpu_limit: The most CPU the container may use.
    :ivar memory_limit: The most memory the container may use; beyond it the container is
        killed.
    """

    cpu: Quantity | None = None
    memory: Quantity | None = None
    cpu_limit: Quantity | None = None
    memory_limit: Quantity | None = None


@attrs.frozen(kw_only=True)
class Autoscaling:
    """A horizontal autoscaler: between ``min_replicas`` and ``max_replicas`` by utilisation.

    :ivar min_replicas: The fewest replicas, at least 1.
    :ivar max_replicas: The most replicas, at most 1000.
    :ivar cpu_target_percent: The average CPU use, in percent of the request, the autoscaler
        aims at; null: not by CPU.
    :ivar memory_target_percent: The average memory use, in percent of the request, the
        autoscaler aims at; null: not by memory.
    """

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
    """A readiness or liveness probe; ``path`` is for http, ``command`` for exec.

    :ivar type: How to probe: http, tcp, exec or grpc.
    :ivar port: The port to probe (http, tcp, grpc); unset, the service's first port.
    :ivar path: The HTTP path to request (http probes).
    :ivar command: The command to run in the container (exec probes); exit 0 is healthy.
    :ivar initial_delay_seconds: Seconds to wait after the container starts before the first
        probe.
    :ivar period_seconds: Seconds between probes.
    :ivar timeout_seconds: Seconds a probe may take.
    :ivar failure_threshold: Failures in a row that mark the container unready (readiness) or
        restart it (liveness).
    """

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
    """Persistent storage mounted into the container; a service with one is a StatefulSet.

    :ivar name: The volume's name, a DNS label.
    :ivar mount_path: Where the volume is mounted in the container.
    :ivar size: The volume's size, as a quantity (``10Gi``).
    :ivar storage_class: The storage class of the volume's claim; unset, the cluster's default.
    """

    name: DnsLabel
    mount_path: AbsolutePath
    size: Quantity
    storage_class: DnsLabel | None = None


@attrs.frozen(kw_only=True)
class MountedFile:
    """A file mounted read-only into the container; ``content`` may be a secret reference.

    :ivar path: Where the file is mounted in the container.
    :ivar content: The file's content: a string or a secret reference.
    """

    path: AbsolutePath
    content: Value


@attrs.frozen(kw_only=True)
class GitSource:
    """Source code at exactly one commit. ``token`` and ``ssh_key`` are secret references.

    :ivar url: The repository's URL (https, ssh or git; never file://).
    :ivar commit: The full commit id to check out (40 or 64 hex digits).
    :ivar branch: The branch the commit is on, fetched when the server does not serve a bare
        commit.
    :ivar root_path: The directory in the repository that holds the source; unset, its root.
    :ivar token: A secret reference to an access token for HTTPS.
    :ivar ssh_key: A secret reference to a private key for SSH.
    :ivar submodules: Whether to check out submodules too.
    :ivar lfs: Whether to fetch Git LFS objects.
    """

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
    """What every long-running or one-off container service has in common.

    :ivar name: The service's name, a DNS label unique in the environment; its objects are named
        after it.
    :ivar depends_on: The names of services to deploy (and be ready) before this one.
    :ivar env: Environment variables: each a string or a secret reference.
    :ivar files: Files mounted read-only into the container.
    :ivar command: The container's entry point; empty: the image's.
    :ivar args: The arguments to the entry point; empty: the image's.
    :ivar resources: CPU and memory requests and limits.
    """

    name: DnsLabel
    depends_on: tuple[DnsLabel, ...] = ()
    env: Mapping[EnvVarName, Value] = attrs.field(factory=dict)
    files: tuple[MountedFile, ...] = ()
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    resources: Resources = attrs.field(factory=Resources)
