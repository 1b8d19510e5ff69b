"""The VPC's address plan: a public and a private subnet per availability zone.

The VPC CIDR is cut into 16 equal blocks (4 more prefix bits): the first ``zones`` blocks are
the private subnets (nodes, pods with the VPC CNI), the next ``zones`` the public ones (NAT
gateways, internet-facing load balancers). A /16 gives /20 subnets of 4096 addresses.
"""

from __future__ import annotations

import ipaddress

import attrs

SUBNET_BITS = 4


@attrs.frozen(kw_only=True)
class SubnetPlan:
    """The CIDRs of the private and public subnets, one of each per zone, in zone order."""

    private: tuple[str, ...]
    public: tuple[str, ...]


def plan_subnets(vpc_cidr: str, zones: int) -> SubnetPlan:
    """Cut ``vpc_cidr`` into ``zones`` private and ``zones`` public subnets.

    Pre: an IPv4 network from /16 to /24 and ``2 * zones <= 16`` (the job's checks ensure it).
    """
    network = ipaddress.ip_network(vpc_cidr)
    blocks = [str(block) for block in network.subnets(prefixlen_diff=SUBNET_BITS)]
    if 2 * zones > len(blocks):
        raise ValueError(f"{vpc_cidr} is too small for {zones} zones")
    return SubnetPlan(private=tuple(blocks[:zones]), public=tuple(blocks[zones : 2 * zones]))
