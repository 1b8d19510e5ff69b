"""Address arithmetic of GKE's VPC-native clusters (no network calls)."""

from __future__ import annotations

import ipaddress
import math

from qengine_gcp.catalog import RESERVED_PER_SUBNET

#: Private ranges GKE accepts for its ranges: RFC 1918 and RFC 6598's shared space.
PRIVATE_BLOCKS = tuple(
    ipaddress.IPv4Network(block)
    for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


def is_private(network: ipaddress.IPv4Network) -> bool:
    """Whether ``network`` lies wholly in one of :data:`PRIVATE_BLOCKS`."""
    return any(network.subnet_of(block) for block in PRIVATE_BLOCKS)


def pod_prefix_per_node(max_pods_per_node: int) -> int:
    """The prefix of each node's pod range: GKE gives a node twice its maximum number of pods,
    rounded up to a power of two (110 pods: a /24)."""
    return 32 - math.ceil(math.log2(2 * max_pods_per_node))


def pod_addresses_per_node(max_pods_per_node: int) -> int:
    """The addresses of the pods range one node takes."""
    return int(2 ** (32 - pod_prefix_per_node(max_pods_per_node)))


def nodes_fitting_subnet(nodes: ipaddress.IPv4Network) -> int:
    """How many node addresses the subnet's primary range has."""
    return max(nodes.num_addresses - RESERVED_PER_SUBNET, 0)
