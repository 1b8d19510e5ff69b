"""A sandbox session: the in-process stand-ins shared by the jobs of one sandbox run.

A sandbox run starts stand-ins (a Kubernetes API simulator, a moto server...) through the
plugins' ``qengine_sandbox`` hook and stops them when the run ends. A session lets several
jobs run against the same stand-ins, one after the other: an infrastructure job creates a
sandbox cluster, and the environment job run next in the same session deploys onto it.

Plugins share what they started through :attr:`SandboxSession.shared`, by well-known keys:
:data:`KUBE_CLUSTER` is the Kubernetes API of the session's cluster, a
:class:`SandboxKubeCluster`. Whatever is entered on :attr:`SandboxSession.stack` stops when
the session ends.
"""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType

import attrs

#: ``shared`` key of the session's Kubernetes cluster (a :class:`SandboxKubeCluster`).
KUBE_CLUSTER = "kubernetes.cluster"


@attrs.frozen(kw_only=True)
class SandboxKubeCluster:
    """Where a sandbox cluster's API answers: a loopback HTTPS endpoint, its CA, a token."""

    endpoint: str
    ca_pem: str
    token: str = attrs.field(repr=False)


class SandboxSession:
    """The stand-ins of one sandbox run of one or more jobs; use it as a context manager.

    Not thread-safe: the jobs of a session run one after the other.
    """

    def __init__(self) -> None:
        self.stack = ExitStack()
        self.shared: dict[str, object] = {}

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop every stand-in the session started (in reverse order) and forget them."""
        self.shared.clear()
        self.stack.close()

    def kube_cluster(self) -> SandboxKubeCluster | None:
        """The session's Kubernetes cluster, if a plugin started one."""
        found = self.shared.get(KUBE_CLUSTER)
        return found if isinstance(found, SandboxKubeCluster) else None
