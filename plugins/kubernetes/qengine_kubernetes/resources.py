"""Where each kind qengine renders lives in the API: group/version, plural, namespaced.

A fixed table rather than discovery: qengine renders a known set of kinds, and skipping
discovery saves a round of requests per job. Kinds of custom resources (the Gateway API's,
cert-manager's Certificate) are ``optional``: served only once their CRDs are installed, so a
list of one on a cluster without them is empty rather than an error.
"""

from __future__ import annotations

from urllib.parse import quote

import attrs


@attrs.frozen(kw_only=True)
class Resource:
    """One resource type of the API."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool = True
    optional: bool = False

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """The REST path of the collection, or of the object ``name``."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base if name is None else f"{base}/{quote(name, safe='')}"


_TABLE = (
    Resource(kind="Namespace", api_version="v1", plural="namespaces", namespaced=False),
    Resource(kind="ServiceAccount", api_version="v1", plural="serviceaccounts"),
    Resource(kind="Secret", api_version="v1", plural="secrets"),
    Resource(kind="ConfigMap", api_version="v1", plural="configmaps"),
    Resource(kind="PersistentVolumeClaim", api_version="v1", plural="persistentvolumeclaims"),
    Resource(kind="Service", api_version="v1", plural="services"),
    Resource(kind="Pod", api_version="v1", plural="pods"),
    Resource(kind="Event", api_version="v1", plural="events"),
    Resource(kind="ResourceQuota", api_version="v1", plural="resourcequotas"),
    Resource(kind="LimitRange", api_version="v1", plural="limitranges"),
    Resource(kind="Deployment", api_version="apps/v1", plural="deployments"),
    Resource(kind="StatefulSet", api_version="apps/v1", plural="statefulsets"),
    Resource(kind="ReplicaSet", api_version="apps/v1", plural="replicasets"),
    Resource(kind="Job", api_version="batch/v1", plural="jobs"),
    Resource(kind="CronJob", api_version="batch/v1", plural="cronjobs"),
    Resource(
        kind="HorizontalPodAutoscaler",
        api_version="autoscaling/v2",
        plural="horizontalpodautoscalers",
    ),
    Resource(kind="PodDisruptionBudget", api_version="policy/v1", plural="poddisruptionbudgets"),
    Resource(kind="Ingress", api_version="networking.k8s.io/v1", plural="ingresses"),
    Resource(kind="NetworkPolicy", api_version="networking.k8s.io/v1", plural="networkpolicies"),
    Resource(kind="Lease", api_version="coordination.k8s.io/v1", plural="leases"),
    Resource(
        kind="GatewayClass",
        api_version="gateway.networking.k8s.io/v1",
        plural="gatewayclasses",
        namespaced=False,
        optional=True,
    ),
    Resource(
        kind="Gateway",
        api_version="gateway.networking.k8s.io/v1",
        plural="gateways",
        optional=True,
    ),
    Resource(
        kind="HTTPRoute",
        api_version="gateway.networking.k8s.io/v1",
        plural="httproutes",
        optional=True,
    ),
    Resource(
        kind="Certificate", api_version="cert-manager.io/v1", plural="certificates", optional=True
    ),
)
RESOURCES = {r.kind: r for r in _TABLE}

#: Kinds a service's objects may have, in the order they are applied (what others read first).
SERVICE_KINDS = (
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Service",
    "Deployment",
    "StatefulSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "HTTPRoute",
)

#: The kinds that route a router's hosts, one per routing (``ingress``, ``gateway``).
ROUTE_KINDS = ("Ingress", "HTTPRoute")


def resource_of(kind: str) -> Resource:
    """The resource of ``kind``; KeyError for a kind qengine does not render."""
    return RESOURCES[kind]


def apply_order(kind: str) -> int:
    """Sort key: kinds others refer to go first."""
    order = (
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "Gateway",
        *SERVICE_KINDS,
    )
    return order.index(kind) if kind in order else len(order)
