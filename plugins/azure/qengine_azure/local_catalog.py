"""What the stand-in Resource Manager offers as Compute's VM sizes and regional quotas.

Shapes of ``Microsoft.Compute/skus`` (``ResourceSku``) and ``locations/{l}/usages``
(``Usage``) as the REST API returns them; a handful of common sizes, offered in every region
with three zones, and quotas like a new pay-as-you-go subscription's. A test changes them
through :class:`~qengine_azure.local_arm.LocalArm`'s ``skus`` and ``usages``.
"""

from __future__ import annotations

from typing import Any

#: (size, family, vCPUs, memory GB)
_SIZES = (
    ("Standard_B2s", "standardBSFamily", 2, 4),
    ("Standard_D2s_v5", "standardDSv5Family", 2, 8),
    ("Standard_D4s_v5", "standardDSv5Family", 4, 16),
    ("Standard_D8s_v5", "standardDSv5Family", 8, 32),
    ("Standard_D4as_v5", "standardDASv5Family", 4, 16),
    ("Standard_D8as_v5", "standardDASv5Family", 8, 32),
    ("Standard_E4s_v5", "standardESv5Family", 4, 32),
)


def sku(size: str, family: str, vcpus: int, memory: int, location: str) -> dict[str, Any]:
    """One ``virtualMachines`` resource SKU offered in ``location`` with zones 1 to 3."""
    return {
        "resourceType": "virtualMachines",
        "name": size,
        "tier": "Standard",
        "size": size.removeprefix("Standard_"),
        "family": family,
        "locations": [location],
        "locationInfo": [{"location": location, "zones": ["1", "2", "3"], "zoneDetails": []}],
        "capabilities": [
            {"name": "vCPUs", "value": str(vcpus)},
            {"name": "MemoryGB", "value": str(memory)},
        ],
        "restrictions": [],
    }


def skus(location: str) -> list[dict[str, Any]]:
    """The catalog's sizes in ``location``."""
    return [sku(*size, location) for size in _SIZES]


def usage(name: str, label: str, current: int, limit: int) -> dict[str, Any]:
    """One regional quota, as ``usages`` lists it."""
    return {
        "unit": "Count",
        "currentValue": current,
        "limit": limit,
        "name": {"value": name, "localizedValue": label},
    }


def usages() -> list[dict[str, Any]]:
    """A new subscription's regional vCPU quotas."""
    families = sorted({family for _, family, _, _ in _SIZES})
    return [
        usage("cores", "Total Regional vCPUs", 0, 350),
        usage("lowPriorityCores", "Total Regional Low-priority vCPUs", 0, 100),
        *(usage(family, f"{family} vCPUs", 0, 100) for family in families),
    ]


def network_usages() -> list[dict[str, Any]]:
    """A new subscription's regional Network quotas (the ones preflight reads)."""
    return [
        usage("StandardSkuPublicIpAddresses", "Public IP Addresses - Standard", 0, 20),
        usage("PublicIPAddresses", "Public IP Addresses - Basic", 0, 20),
        usage("VirtualNetworks", "Virtual Networks", 0, 1000),
    ]
