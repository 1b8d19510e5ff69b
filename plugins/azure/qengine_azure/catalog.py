"""What Azure offers, as the plugin knows it: regions, AKS versions and AKS's documented limits.

Kept as data so a check needs no network; preflight confirms the region's VM sizes and quotas
against Azure before anything changes.
"""

from __future__ import annotations

import ipaddress

REGIONS = frozenset(
    {
        "australiacentral",
        "australiaeast",
        "australiasoutheast",
        "austriaeast",
        "belgiumcentral",
        "brazilsouth",
        "canadacentral",
        "canadaeast",
        "centralindia",
        "centralus",
        "chilecentral",
        "eastasia",
        "eastus",
        "eastus2",
        "francecentral",
        "germanywestcentral",
        "indonesiacentral",
        "israelcentral",
        "italynorth",
        "japaneast",
        "japanwest",
        "koreacentral",
        "koreasouth",
        "malaysiawest",
        "mexicocentral",
        "newzealandnorth",
        "northcentralus",
        "northeurope",
        "norwayeast",
        "polandcentral",
        "qatarcentral",
        "southafricanorth",
        "southcentralus",
        "southeastasia",
        "southindia",
        "spaincentral",
        "swedencentral",
        "switzerlandnorth",
        "uaenorth",
        "uksouth",
        "ukwest",
        "westcentralus",
        "westeurope",
        "westus",
        "westus2",
        "westus3",
    }
)

#: AKS minor versions the plugin's blueprint supports, oldest first (preflight asks AKS which
#: it offers now in the region).
AKS_VERSIONS = ("1.31", "1.32", "1.33", "1.34")

#: AKS's limits, as documented.
MAX_NODES_PER_POOL = 1000
MAX_NODES_PER_CLUSTER = 5000
MAX_NODE_POOLS = 100
MAX_NODE_POOL_NAME = 12
MIN_PODS_PER_NODE, MAX_PODS_PER_NODE = 10, 250
MIN_OS_DISK_GB, MAX_OS_DISK_GB = 30, 2048
MAX_AUTHORIZED_IP_RANGES = 200
ZONES = ("1", "2", "3")
#: The node resource group AKS creates, ``MC_<group>_<cluster>_<location>``, is at most 80.
MAX_NODE_RESOURCE_GROUP = 80
#: Each node takes a /24 of the overlay's pod range.
POD_PREFIX_PER_NODE = 24
#: Addresses Azure keeps in every subnet (network, gateway, two DNS, broadcast).
RESERVED_PER_SUBNET = 5
#: The smallest subnet Azure allows, and the largest service range AKS accepts.
MAX_SUBNET_PREFIX = 29
MIN_SERVICES_PREFIX = 12
#: Ranges AKS reserves: no cluster range may overlap them.
RESERVED_RANGES = tuple(
    ipaddress.IPv4Network(block)
    for block in ("169.254.0.0/16", "172.30.0.0/16", "172.31.0.0/16", "192.0.2.0/24")
)
#: Private ranges the cluster's ranges must lie in: RFC 1918 and RFC 6598's shared space.
PRIVATE_BLOCKS = tuple(
    ipaddress.IPv4Network(block)
    for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
#: Azure's tag limits; a storage account (the state's) allows keys of 128 characters only,
#: and it carries the job's tags too.
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
