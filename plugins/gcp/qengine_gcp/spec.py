"""The spec sections of Google Cloud: a GKE Standard cluster's settings, Cloud DNS and
Artifact Registry.

Written in a job as ``"provider": {"kind": "gcp", ...}`` under ``cluster``,
``"dns": {"kind": "cloud-dns", ...}`` and ``"registry": {"kind": "artifact-registry", ...}``.
Every rule a type cannot say is in :mod:`qengine_gcp.checks` (offline, run by
``qengine validate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

import attrs

from qengine.spec import (
    Cidr,
    DnsLabel,
    DnsSpec,
    DomainName,
    ProviderSpec,
    RegistrySpec,
    SecretRef,
)


@attrs.frozen(kw_only=True)
class NodePool:
    """A GKE node pool: one machine type, autoscaled between ``min_nodes`` and ``max_nodes``
    nodes per zone (GKE's per-zone limits), ``initial_nodes`` per zone when it is created."""

    name: DnsLabel
    machine_type: str
    min_nodes: int = 1
    max_nodes: int = 3
    initial_nodes: int | None = None
    spot: bool = False
    disk_size_gb: int = 100
    disk_type: str = "pd-balanced"
    max_pods_per_node: int = 110


@attrs.frozen(kw_only=True)
class NetworkRanges:
    """The cluster's VPC-native address ranges, all IPv4 and private, none overlapping.

    ``nodes``: the subnet's primary range; ``pods`` and ``services``: its two secondary
    ranges; ``control_plane``: the /28 of the private control plane's peering.
    """

    nodes: Cidr = Cidr("10.10.0.0/20")
    pods: Cidr = Cidr("10.16.0.0/14")
    services: Cidr = Cidr("10.20.0.0/20")
    control_plane: Cidr = Cidr("172.16.0.0/28")


@attrs.frozen(kw_only=True)
class AuthorizedNetwork:
    """A network allowed to reach the control plane's endpoint."""

    cidr: Cidr
    name: str = ""


@attrs.frozen(kw_only=True)
class StateBucket:
    """Where Terraform state lives, in the user's own project (created if missing).

    ``bucket``: its name (default ``qengine-state-<project>``); ``location``: where it is
    created (default: the cluster's region); ``kms_key``: a Cloud KMS key
    (``projects/P/locations/L/keyRings/R/cryptoKeys/K``) for customer-managed encryption.
    """

    bucket: str | None = None
    location: str | None = None
    kms_key: str | None = None


@attrs.frozen(kw_only=True)
class WorkloadIdentityFederation:
    """Federated credentials instead of the host's own: an external token exchanged at
    Google's STS for a short-lived access token.

    ``audience``: the provider's resource name
    (``//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER``);
    ``subject_token``: the external identity's token (an OIDC ID token or a SAML assertion),
    always a secret reference; ``subject_token_type``: its type.
    """

    audience: str
    subject_token: SecretRef
    subject_token_type: str = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 (a type)


@attrs.frozen(kw_only=True)
class GcpProvider(ProviderSpec):
    """A GKE Standard cluster's Google Cloud settings.

    Credentials are short-lived only: the engine impersonates ``service_account`` (IAM
    Credentials ``generateAccessToken``) from the host's credentials, or from a workload
    identity federation token when ``workload_identity`` is given; ``delegates`` is the
    delegation chain, when impersonation goes through other service accounts.

    ``region``: the regional cluster's region; ``zones``: the zones of its nodes (GKE picks
    three when empty). ``release_channel``: ``rapid``, ``regular``, ``stable``, ``extended``
    or ``none`` (then ``kubernetes_version`` is pinned and upgrades are the engine's).
    """

    kind: Literal["gcp"]
    project: str
    region: str
    zones: tuple[str, ...] = ()
    service_account: str | None = None
    delegates: tuple[str, ...] = ()
    workload_identity: WorkloadIdentityFederation | None = None
    network: NetworkRanges = attrs.field(factory=NetworkRanges)
    node_pools: tuple[NodePool, ...]
    release_channel: str = "regular"
    private_nodes: bool = True
    private_endpoint: bool = False
    authorized_networks: tuple[AuthorizedNetwork, ...] = ()
    state: StateBucket = attrs.field(factory=StateBucket)
    labels: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class CloudDns(DnsSpec):
    """A Cloud DNS public managed zone serving ``zone`` in ``project`` (looked up by its DNS
    name unless ``managed_zone``, the zone's resource name, is given).

    Credentials as for the cluster: ``service_account`` to impersonate (with ``delegates``),
    or ``workload_identity`` federation.
    """

    kind: Literal["cloud-dns"]
    project: str
    zone: DomainName
    managed_zone: str | None = None
    service_account: str | None = None
    delegates: tuple[str, ...] = ()
    workload_identity: WorkloadIdentityFederation | None = None


@attrs.frozen(kw_only=True)
class ArtifactRegistry(RegistrySpec):
    """An Artifact Registry Docker repository, ``repository`` in ``project`` at ``location``
    (a region, or ``us``, ``europe``, ``asia``), created on demand; each service's images are
    ``<location>-docker.pkg.dev/<project>/<repository>/<service>``.

    Credentials as for the cluster: ``service_account`` to impersonate (with ``delegates``),
    or ``workload_identity`` federation. ``immutable_tags``: a tag, once pushed, cannot move.
    """

    kind: Literal["artifact-registry"]
    project: str
    location: str
    repository: str = "qengine"
    immutable_tags: bool = True
    service_account: str | None = None
    delegates: tuple[str, ...] = ()
    workload_identity: WorkloadIdentityFederation | None = None


class GcpIdentity(Protocol):
    """Who a job acts as: the fields every GCP section with credentials has (the cluster's
    ``gcp`` provider, the ``cloud-dns`` section)."""

    @property
    def project(self) -> str:
        """The project the job works in."""

    @property
    def service_account(self) -> str | None:
        """The service account to impersonate, if any."""

    @property
    def delegates(self) -> tuple[str, ...]:
        """The impersonation's delegation chain."""

    @property
    def workload_identity(self) -> WorkloadIdentityFederation | None:
        """Federated source credentials instead of the host's."""
