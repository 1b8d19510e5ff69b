"""The environment's own objects: its namespace, the isolating NetworkPolicy, quota and limits.

Isolation: pods of the namespace accept traffic only from pods of the same namespace and from
the namespaces where an ingress controller runs (``qengine-system``, where qengine's add-on
stack installs ingress-nginx, and ``ingress-nginx``, its usual namespace when installed by
hand), matched by the ``kubernetes.io/metadata.name`` label every namespace carries.
"""

from __future__ import annotations

from qengine.spec import Environment
from qengine_kubernetes.render import names
from qengine_kubernetes.render.context import Manifest, RenderContext
from qengine_kubernetes.render.labels import environment_labels

INGRESS_NAMESPACES = ("ingress-nginx", "qengine-system")
# Requests a container gets when it sets none, so a quota on requests admits it.
DEFAULT_REQUEST = {"cpu": "100m", "memory": "128Mi"}


def render_namespace(ctx: RenderContext) -> list[Manifest]:
    """The Namespace, and its NetworkPolicy, ResourceQuota and LimitRange as the spec asks."""
    environment = ctx.environment
    labels = environment_labels(environment)
    objects: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ctx.namespace, "labels": labels},
        }
    ]
    if environment.network_isolation:
        objects.append(_isolation(ctx, labels))
    if environment.quota is not None:
        objects += _quota(ctx, environment, labels)
    return objects


def _isolation(ctx: RenderContext, labels: dict[str, str]) -> Manifest:
    controllers = {
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "In",
                    "values": list(INGRESS_NAMESPACES),
                }
            ]
        }
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ctx.metadata(names.ISOLATION_POLICY, labels),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}, controllers]}],
        },
    }


def _quota(ctx: RenderContext, environment: Environment, labels: dict[str, str]) -> list[Manifest]:
    quota = environment.quota
    assert quota is not None
    hard = {
        key: value
        for key, value in (
            ("requests.cpu", quota.cpu),
            ("requests.memory", quota.memory),
            ("pods", str(quota.pods) if quota.pods is not None else None),
        )
        if value is not None
    }
    resource_quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": ctx.metadata(names.QUOTA, labels),
        "spec": {"hard": hard},
    }
    limit_range = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": ctx.metadata(names.LIMITS, labels),
        "spec": {"limits": [{"type": "Container", "defaultRequest": dict(DEFAULT_REQUEST)}]},
    }
    return [resource_quota, limit_range]
