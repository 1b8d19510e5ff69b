"""The spec sections of Google Cloud: a GKE Standard cluster's settings, Cloud DNS and
Artifact Registry.

Written in a job as ``"provider": {"kind": "gcp", ...}`` under ``cluster``,
``"dns": {"kind": "cloud-dns", ...}`` and ``"registry": {"kind": "artifact-registry", ...}``.
Every rule a type cannot say is in :mod:`qengine_gcp.checks` (offline, run by
``qengine validate``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import ClassVar, Literal, Protocol

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
    nodes per zone (GKE's per-zone limits), ``initial_nodes`` per zone when it is created.

    :ivar name: The node pool's name, a DNS label unique in the cluster.
    :ivar machine_type: The Compute Engine machine type of its nodes, e.g. ``e2-standard-4``.
    :ivar min_nodes: The fewest nodes per zone.
    :ivar max_nodes: The most nodes per zone.
    :ivar initial_nodes: The nodes per zone when it is created; unset, ``min_nodes``.
    :ivar spot: Whether the nodes are Spot VMs.
    :ivar disk_size_gb: Each node's boot disk, in GB.
    :ivar disk_type: The boot disk's type, e.g. ``pd-balanced`` or ``pd-ssd``.
    :ivar max_pods_per_node: The most pods per node (it sizes each node's pod range).
    """

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

    :ivar nodes: The subnet's primary range: the nodes' addresses.
    :ivar pods: The subnet's secondary range for pods.
    :ivar services: The subnet's secondary range for Kubernetes Services.
    :ivar control_plane: The /28 of the private control plane's peering.
    """

    nodes: Cidr = Cidr("10.10.0.0/20")
    pods: Cidr = Cidr("10.16.0.0/14")
    services: Cidr = Cidr("10.20.0.0/20")
    control_plane: Cidr = Cidr("172.16.0.0/28")


@attrs.frozen(kw_only=True)
class AuthorizedNetwork:
    """A network allowed to reach the control plane's endpoint.

    :ivar cidr: The network allowed to reach the control plane's endpoint.
    :ivar name: A display name for it.
    """

    cidr: Cidr
    name: str = ""


@attrs.frozen(kw_only=True)
class StateBucket:
    """Where Terraform state lives, in the user's own project (created if missing).

    ``bucket``: its name (default ``qengine-state-<project>``); ``location``: where it is
    created (default: the cluster's region); ``kms_key``: a Cloud KMS key
    (``projects/P/locations/L/keyRings/R/cryptoKeys/K``) for customer-managed encryption.

    :ivar bucket: The Cloud Storage bucket of the Terraform state; unset,
        ``qengine-state-<project>``.
    :ivar location: Where the bucket is created; unset, the cluster's region.
    :ivar kms_key: A Cloud KMS key (``projects/P/locations/L/keyRings/R/cryptoKeys/K``) for
        customer-managed encryption of the state.
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

    :ivar audience: The workload identity pool provider's resource name
        (``//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER``).
    :ivar subject_token: A secret reference to the external identity's token (an OIDC ID token
        or a SAML assertion).
    :ivar subject_token_type: The subject token's type (an STS token type URN).
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

    :ivar project: The Google Cloud project of the cluster.
    :ivar region: The regional cluster's region, e.g. ``europe-west1``.
    :ivar zones: The zones of the cluster's nodes; empty, GKE picks three.
    :ivar service_account: The service account to impersonate (IAM Credentials
        ``generateAccessToken``); unset, the source credentials are used as they are.
    :ivar delegates: The delegation chain, when impersonation goes through other service
        accounts.
    :ivar workload_identity: Workload identity federation: an external token exchanged for the
        source credentials instead of the host's.
    :ivar network: The cluster's VPC-native address ranges.
    :ivar node_pools: The node pools, at least one.
    :ivar release_channel: The GKE release channel: ``rapid``, ``regular``, ``stable``,
        ``extended``, or ``none`` (then ``kubernetes_version`` is pinned and upgrades are the
        engine's).
    :ivar private_nodes: Whether the nodes have internal addresses only.
    :ivar private_endpoint: Whether the control plane has a private endpoint only.
    :ivar authorized_networks: The networks allowed to reach the control plane's endpoint;
        empty, any.
    :ivar state: Where the cluster's Terraform state lives.
    :ivar labels: Labels put on every Google Cloud resource of the cluster (besides the engine's
        own).
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

    :ivar project: The project of the managed zone.
    :ivar zone: The zone's DNS name.
    :ivar managed_zone: The managed zone's resource name; unset, the zone is looked up by its
        DNS name.
    :ivar service_account: The service account to impersonate (IAM Credentials
        ``generateAccessToken``); unset, the source credentials are used as they are.
    :ivar delegates: The delegation chain, when impersonation goes through other service
        accounts.
    :ivar workload_identity: Workload identity federation: an external token exchanged for the
        source credentials instead of the host's.
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

    :ivar project: The project of the repository.
    :ivar location: The repository's location: a region, or ``us``, ``europe``, ``asia``.
    :ivar repository: The Docker repository's name, created on demand.
    :ivar immutable_tags: Whether a pushed tag cannot be moved.
    :ivar service_account: The service account to impersonate (IAM Credentials
        ``generateAccessToken``); unset, the source credentials are used as they are.
    :ivar delegates: The delegation chain, when impersonation goes through other service
        accounts.
    :ivar workload_identity: Workload identity federation: an external token exchanged for the
        source credentials instead of the host's.
    """

    # An access token lasts an hour at most: the cluster's pull Secret is written again
    # before it lapses (see docs/gcp.md, "Artifact Registry").
    pull_secret_lifetime: ClassVar[datetime.timedelta | None] = datetime.timedelta(hours=1)
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
