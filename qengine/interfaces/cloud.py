"""Cloud providers and the infrastructure engines they build."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar

import attrs

if TYPE_CHECKING:
    from qengine.interfaces.cancel import CancelToken
    from qengine.spec import InfrastructureJob, ProviderSpec


@attrs.frozen(kw_only=True)
class ClusterAccess:
    """How to reach a cluster's API: endpoint, CA, and a token provider held in memory.

    Nothing here is a long-lived credential written to disk: ``token`` is called whenever a
    fresh bearer token is needed (for EKS, a presigned STS call, as ``aws eks get-token`` does).
    """

    endpoint: str
    ca_pem: str
    token: Callable[[], str] = attrs.field(repr=False)
    extra: Mapping[str, str] = attrs.field(factory=dict)


class InfraEngine(abc.ABC):
    """Drives one cluster's lifecycle on one cloud. Every method honours ``cancel``."""

    @abc.abstractmethod
    def plan(self, job: InfrastructureJob, cancel: CancelToken) -> Mapping[str, str]:
        """Describe what the job's action would change, making no mutating request."""

    @abc.abstractmethod
    def create(self, job: InfrastructureJob, cancel: CancelToken) -> ClusterAccess:
        """Create the cluster, or converge an existing one to the spec. Idempotent."""

    @abc.abstractmethod
    def upgrade(self, job: InfrastructureJob, cancel: CancelToken) -> ClusterAccess:
        """Upgrade control plane then node groups by one minor version at most."""

    @abc.abstractmethod
    def pause(self, job: InfrastructureJob, cancel: CancelToken) -> None:
        """Scale workers to zero, keeping the control plane and all state."""

    @abc.abstractmethod
    def resume(self, job: InfrastructureJob, cancel: CancelToken) -> ClusterAccess:
        """Restore the worker counts saved by :meth:`pause`."""

    @abc.abstractmethod
    def delete(self, job: InfrastructureJob, cancel: CancelToken) -> None:
        """Destroy the cluster; the state bucket is kept."""


class CloudProvider(abc.ABC):
    """A cloud: validates its spec section and builds the :class:`InfraEngine` for a cluster.

    ``kind`` is the value of ``cluster.provider.kind`` this provider answers to; ``spec_type``
    is the attrs class its section is structured into.
    """

    kind: ClassVar[str]
    spec_type: ClassVar[type[ProviderSpec]]

    @abc.abstractmethod
    def infra_engine(self, job: InfrastructureJob) -> InfraEngine:
        """Build the engine for ``job``. Pre: the job validated. Must not touch the network."""
