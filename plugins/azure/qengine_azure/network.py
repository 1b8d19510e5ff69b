"""Address arithmetic of AKS clusters on Azure CNI overlay (no network calls)."""

from __future__ import annotations

import ipaddress

from qengine_azure.catalog import POD_PREFIX_PER_NODE, PRIVATE_BLOCKS, RESERVED_PER_SUBNET


def ipv4(value: str) -> ipaddress.IPv4Network | None:
    """``value`` as an IPv4 network, or None when it is not one (host bits set included)."""
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        return None
    return network if isinstance(network, ipaddress.IPv4Network) else None


def is_private(network: ipaddress.IPv4Network) -> bool:
    """Whether ``network`` lies wholly in one of the private blocks."""
    return any(network.subnet_of(block) for block in PRIVATE_BLOCKS)


def nodes_fitting_subnet(subnet: ipaddress.IPv4Network) -> int:
    """How many node addresses the nodes' subnet has."""
    return max(subnet.num_addresses - RESERVED_PER_SUBNET, 0)


def nodes_fitting_pods(pods: ipaddress.IPv4Network) -> int:
    """How many nodes the overlay's pod range serves (a /24 each)."""
    if pods.prefixlen > POD_PREFIX_PER_NODE:
        return 0
    return int(2 ** (POD_PREFIX_PER_NODE - pods.prefixlen))
