"""The spec sections of Azure: an AKS cluster's settings, Azure DNS and ACR.

Written in a job as ``"provider": {"kind": "azure", ...}`` under ``cluster``,
``"dns": {"kind": "azure-dns", ...}`` and ``"registry": {"kind": "acr", ...}``. Every rule a type
cannot say is in :mod:`qengine_azure.checks` (offline, run by ``qengine validate``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import attrs

from qengine.spec import (
    Cidr,
    DnsSpec,
    DomainName,
    PluginSection,
    ProviderSpec,
    RegistrySpec,
    SecretRef,
)


def _kind_first(cls: type, fields: list[Any]) -> list[Any]:
    """The section's fields in the order a reader wants them: ``kind``, then
    ``subscription_id`` when the section has one, then the rest as declared (the inherited
    identity fields first). attrs puts a base class's fields before a subclass's own, and each
    section redeclares ``kind`` with its literal."""
    rank = {"kind": 0, "subscription_id": 1}
    return sorted(fields, key=lambda field: rank.get(field.name, 2))


@attrs.frozen(kw_only=True)
class AzureIdentity(PluginSection):
    """Who a job acts as in Azure: the identity fields the ``azure`` provider, the
    ``azure-dns`` DNS section and the ``acr`` registry share, declared once here.

    The application (or user-assigned managed identity) ``client_id`` of ``tenant_id``, with
    exactly one credential: ``client_secret``, ``client_certificate``, ``client_assertion``
    (secret references) or ``workload_identity``. The offline checks
    (:mod:`qengine_azure.checks`) name each field at its own section's path.

    :ivar tenant_id: The Microsoft Entra tenant of the application.
    :ivar client_id: The application (or user-assigned managed identity) the engine
        authenticates as.
    :ivar client_secret: A secret reference to the application's client secret (exactly one
        credential).
    :ivar client_certificate: A secret reference to a PEM holding the application's key and
        certificate (exactly one credential).
    :ivar client_assertion: A secret reference to a signed JWT, a federated credential (exactly
        one credential).
    :ivar workload_identity: Whether the host's projected service-account token (AKS workload
        identity) is the credential (exactly one credential).
    """

    tenant_id: str
    client_id: str
    client_secret: SecretRef | None = None
    client_certificate: SecretRef | None = None
    client_assertion: SecretRef | None = None
    workload_identity: bool = False


@attrs.frozen(kw_only=True)
class AksNodePool:
    """An AKS node pool: one VM size, autoscaled from ``min_count`` to ``max_count`` nodes,
    ``count`` nodes when it is created (default ``min_count``, at least one).

    ``mode``: ``System`` pools run the cluster's own pods (the first pool must be one),
    ``User`` pools the workloads. ``zones``: the availability zones (``"1"``, ``"2"``,
    ``"3"``) the nodes spread over; empty for a region without zones. ``spot``: Spot VMs
    (User pools only), evicted by deletion.

    :ivar name: The node pool's name: a lower-case letter, then up to 11 lower-case letters
        and digits (as AKS requires).
    :ivar vm_size: The VM size of its nodes, e.g. ``Standard_D4s_v5``.
    :ivar min_count: The fewest nodes.
    :ivar max_count: The most nodes.
    :ivar count: The nodes when it is created; unset, ``min_count`` (at least one).
    :ivar mode: ``System`` pools run the cluster's own pods (the first pool must be one),
        ``User`` pools the workloads.
    :ivar spot: Whether the nodes are Spot VMs (User pools only), evicted by deletion.
    :ivar zones: The availability zones (``"1"``, ``"2"``, ``"3"``) the nodes spread over; empty
        for a region without zones.
    :ivar os_disk_size_gb: Each node's OS disk, in GB (30 to 2048).
    :ivar os_disk_type: The OS disk: ``Managed`` or ``Ephemeral``.
    :ivar max_pods: The most pods per node (10 to 250).
    """

    name: str
    vm_size: str
    min_count: int = 1
    max_count: int = 3
    count: int | None = None
    mode: Literal["System", "User"] = "User"
    spot: bool = False
    zones: tuple[str, ...] = ()
    os_disk_size_gb: int = 128
    os_disk_type: Literal["Managed", "Ephemeral"] = "Managed"
    max_pods: int = 110


@attrs.frozen(kw_only=True)
class AksNetwork:
    """The cluster's address ranges (Azure CNI overlay), IPv4, private and not overlapping.

    ``vnet``: the virtual network; ``nodes``: the nodes' subnet, inside ``vnet``; ``pods``:
    the overlay's pod range, outside the VNet; ``services``: Kubernetes Service addresses;
    ``dns_service_ip``: the cluster DNS Service's address, inside ``services``.

    :ivar vnet: The virtual network's address range.
    :ivar nodes: The nodes' subnet, inside ``vnet``.
    :ivar pods: The overlay's pod range, outside the VNet.
    :ivar services: The range of Kubernetes Service addresses.
    :ivar dns_service_ip: The cluster DNS Service's address, inside ``services``.
    """

    vnet: Cidr = Cidr("10.224.0.0/12")
    nodes: Cidr = Cidr("10.224.0.0/16")
    pods: Cidr = Cidr("10.244.0.0/16")
    services: Cidr = Cidr("10.0.0.0/16")
    dns_service_ip: str = "10.0.0.10"


@attrs.frozen(kw_only=True)
class AzureResourceGroup:
    """The resource group of the cluster's resources: created by the engine when ``create``
    is true, otherwise it must exist already (and is never deleted by the engine).

    :ivar name: The resource group's name.
    :ivar create: Whether the engine creates the group; false: it must exist already (and is
        never deleted by the engine).
    """

    name: str
    create: bool = True


@attrs.frozen(kw_only=True)
class AzureStateStorage:
    """Where Terraform state lives, in the user's own subscription (created if missing, with
    blob versioning and soft delete).

    ``storage_account``: its name (default ``qestate`` and a digest of the subscription and
    location, 24 characters at most); ``container``: the blob container;
    ``resource_group``: the account's resource group (default ``qengine-tfstate-<location>``,
    created if missing; never the cluster's own, so deleting the cluster keeps its state).

    :ivar storage_account: The storage account of the Terraform state; unset, ``qestate`` and a
        digest of the subscription and location.
    :ivar container: The blob container of the state.
    :ivar resource_group: The account's resource group; unset, ``qengine-tfstate-<location>``
        (never the cluster's own, so deleting the cluster keeps its state).
    """

    storage_account: str | None = None
    container: str = "tfstate"
    resource_group: str | None = None


@attrs.frozen(kw_only=True, field_transformer=_kind_first)
class AzureProvider(AzureIdentity, ProviderSpec):
    """An AKS cluster's Azure settings.

    Credentials are Microsoft Entra tokens only, obtained with azure-identity for the
    application (or user-assigned managed identity) ``client_id`` of ``tenant_id``, from
    exactly one of: ``client_secret`` (a secret reference), ``client_certificate`` (a secret
    reference to a PEM holding the key and the certificate), ``client_assertion`` (a secret
    reference to a signed JWT, a federated credential) or ``workload_identity`` (the host's
    projected service-account token, as AKS workload identity provides it).

    ``authorized_ip_ranges``: the public networks allowed to reach a public API server
    (empty: every address). ``private_cluster``: the API server has a private endpoint only.

    :ivar subscription_id: The Azure subscription the resources live in.
    :ivar location: The Azure region of the cluster, e.g. ``westeurope``.
    :ivar resource_group: The resource group of the cluster's resources.
    :ivar network: The cluster's address ranges (Azure CNI overlay).
    :ivar node_pools: The node pools, at least one; the first is a System pool.
    :ivar sku_tier: The AKS pricing tier: ``Free``, ``Standard`` or ``Premium``.
    :ivar authorized_ip_ranges: The public networks allowed to reach a public API server; empty,
        every address.
    :ivar private_cluster: Whether the API server has a private endpoint only.
    :ivar state: Where the cluster's Terraform state lives.
    :ivar tags: Tags put on every Azure resource of the cluster (besides the engine's own).
    """

    kind: Literal["azure"]
    subscription_id: str
    location: str
    resource_group: AzureResourceGroup
    network: AksNetwork = attrs.field(factory=AksNetwork)
    node_pools: tuple[AksNodePool, ...]
    sku_tier: Literal["Free", "Standard", "Premium"] = "Standard"
    authorized_ip_ranges: tuple[Cidr, ...] = ()
    private_cluster: bool = False
    state: AzureStateStorage = attrs.field(factory=AzureStateStorage)
    tags: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True, field_transformer=_kind_first)
class AzureDns(AzureIdentity, DnsSpec):
    """An Azure DNS public zone ``zone`` in ``resource_group`` of ``subscription_id``.

    Credentials as for the cluster: the application ``client_id`` of ``tenant_id`` with
    exactly one of ``client_secret``, ``client_certificate``, ``client_assertion`` (secret
    references) or ``workload_identity``. It needs DNS Zone Contributor on the zone.

    :ivar subscription_id: The Azure subscription the resources live in.
    :ivar resource_group: The resource group of the DNS zone.
    :ivar zone: The public DNS zone's name.
    """

    kind: Literal["azure-dns"]
    subscription_id: str
    resource_group: str
    zone: DomainName


@attrs.frozen(kw_only=True, field_transformer=_kind_first)
class AcrRegistry(AzureIdentity, RegistrySpec):
    """An Azure Container Registry ``name``; each service's images are
    ``<login_server>/<repository_prefix>/<service>`` (a repository is created by its first
    push).

    Credentials as for the cluster: the application ``client_id`` of ``tenant_id`` with
    exactly one of ``client_secret``, ``client_certificate``, ``client_assertion`` (secret
    references) or ``workload_identity``. Its Entra token is exchanged for an ACR refresh
    token (about three hours), which pushes, pulls and is the cluster's pull secret. It needs
    AcrPush on the registry (AcrDelete too for deleting images).

    :ivar name: The registry's name: 5 to 50 letters and digits.
    :ivar login_server: The registry's host; unset, ``<name>.azurecr.io`` (give
        ``<name>.azurecr.cn`` or ``<name>.azurecr.us`` in a sovereign cloud, and
        ``<name>-<hash>.azurecr.io`` for a registry created with a domain name label scope).
    :ivar repository_prefix: The path under the login server images are pushed to
        (``<login_server>/<repository_prefix>/<service>``); empty, none.
    """

    # An ACR refresh token lasts about three hours: the cluster's pull Secret is written
    # again before it lapses (see docs/azure.md, "Container registry").
    pull_secret_lifetime: ClassVar[datetime.timedelta | None] = datetime.timedelta(hours=3)
    kind: Literal["acr"]
    name: str
    login_server: str | None = None
    repository_prefix: str = "qengine"

    @property
    def server(self) -> str:
        """The login server: ``login_server``, or ``<name>.azurecr.io``."""
        return (self.login_server or f"{self.name.lower()}.azurecr.io").lower()
