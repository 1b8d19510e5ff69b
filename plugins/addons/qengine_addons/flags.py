"""Which add-ons a job's ``cluster.addons`` turns on: plain data, no cluster, no helm.

Kept apart from :mod:`qengine_addons.stack` so that a job's checks (``qengine validate``) can
ask it without importing the stack's Kubernetes client, helm runner or YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from qengine.spec import InfrastructureJob

if TYPE_CHECKING:
    from qengine_addons.freeze import Freeze

#: Which add-ons each flag of ``cluster.addons`` turns on.
FLAGS: Mapping[str, tuple[str, ...]] = {
    "cert_manager": ("cert-manager", "cluster-issuers"),
    "external_dns": ("external-dns",),
    "ingress": ("traefik",),
    "metrics_server": ("metrics-server",),
    "logs": ("loki", "alloy"),
    "metrics": ("kube-prometheus-stack",),
    "autoscaler": ("cluster-autoscaler",),
}
#: The provider kinds whose clusters scale their node groups only with the cluster-autoscaler
#: add-on (EKS). GKE and AKS autoscale node pools themselves, within the ranges their
#: blueprints give, so their jobs never install it.
AUTOSCALER_CLOUDS = frozenset({"aws"})
#: external-dns's provider for each DNS provider kind of a job.
DNS_PROVIDERS: Mapping[str, str] = {"route53": "aws", "cloud-dns": "google", "azure-dns": "azure"}
#: The DNS provider kinds whose zone cert-manager's ACME DNS-01 solver can write in, with an
#: ambient (workload) identity: Route53 (IRSA), Cloud DNS (GKE workload identity), Azure DNS
#: (AKS workload identity).
DNS01_KINDS = frozenset({"route53", "cloud-dns", "azure-dns"})


def dns_kind(job: InfrastructureJob) -> str:
    """The kind of the job's ``dns`` section (``route53``, ...), ``""`` when it has none."""
    return str(getattr(job.dns, "kind", ""))


def autoscaler_wanted(job: InfrastructureJob) -> bool:
    """Whether the job's stack runs cluster-autoscaler: only on a cloud of
    :data:`AUTOSCALER_CLOUDS`; there, as ``cluster.addons.autoscaler`` says, and when it is
    unset, when a node group may grow (its ``min_size`` below its ``max_size``)."""
    provider = job.cluster.provider
    if provider.kind not in AUTOSCALER_CLOUDS:
        return False
    asked = job.cluster.addons.autoscaler
    if asked is not None:
        return asked
    groups = getattr(provider, "node_groups", ())
    return any(group.min_size < group.max_size for group in groups)


def _wanted(job: InfrastructureJob) -> set[str]:
    addons = job.cluster.addons
    wanted: set[str] = set()
    for flag, names in FLAGS.items():
        value = getattr(addons, flag)
        if flag == "external_dns" and value is None:
            value = job.dns is not None
        if flag == "autoscaler":
            value = autoscaler_wanted(job)
        if value:
            wanted.update(names)
    return wanted


def enabled_addons(job: InfrastructureJob, freeze: Freeze) -> list[str]:
    """The add-ons of the freeze file the job's ``cluster.addons`` turns on, in freeze order."""
    wanted = _wanted(job)
    return [name for name in freeze.names() if name in wanted]


def addon_enabled(job: InfrastructureJob, name: str) -> bool:
    """Whether the job's add-on steps install the add-on ``name`` (one of :data:`FLAGS`'s
    names): false when the job leaves the add-ons alone (``manage: false``). A cloud plugin
    asks it to decide what its blueprint makes for an add-on, such as external-dns's role."""
    return job.cluster.addons.manage and name in _wanted(job)


def dns01_wanted(job: InfrastructureJob) -> bool:
    """Whether the job's issuers solve ACME DNS-01 in the job's ``dns`` zone
    (``cluster.addons.acme_challenge`` ``dns01`` with cert-manager installed): then the cloud
    plugin's blueprint makes cert-manager's identity on the zone."""
    return (
        job.cluster.addons.acme_challenge == "dns01"
        and job.dns is not None
        and addon_enabled(job, "cert-manager")
    )
