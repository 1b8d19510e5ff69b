"""The ``scale`` subresource: an ``autoscaling/v1`` Scale view of a workload's replicas."""

from __future__ import annotations

import json
from typing import Any

from qengine.testing.kube.http import Request
from qengine.testing.kube.patch import apply_patch
from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.selectors import selector_string
from qengine.testing.kube.status import bad_request

JSON = dict[str, Any]


def scale_of(rtype: ResourceType, obj: JSON) -> JSON:
    """The Scale object for a workload."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": selector_string(obj.get("spec", {}).get("selector")),
        },
    }


def scale_patch(req: Request, current: JSON) -> JSON:
    """The Scale after a PUT or PATCH body."""
    if req.method == "PUT":
        try:
            body = json.loads(req.body)
        except ValueError as exc:
            raise bad_request(f"the Scale could not be decoded: {exc}") from exc
        return body if isinstance(body, dict) else current
    if req.content_type == "application/apply-patch+yaml":
        from qengine.testing.kube.objects import parse_apply_body

        return dict(current, spec=parse_apply_body(req.body).get("spec", current["spec"]))
    return apply_patch(req.content_type, current, req.body)
