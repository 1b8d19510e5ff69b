"""Review resources that are answered, never stored: who am I, and may I.

The simulator has one all-powerful user (the bearer token), so every access review is
allowed, and a self-subject review names that user. ``kubectl auth can-i`` and ``kubectl auth
whoami`` work with these.
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.resources import ResourceType

JSON = dict[str, Any]
USER = {"username": "qengine-sim-admin", "groups": ["system:masters", "system:authenticated"]}
REVIEW_KINDS = ("SelfSubjectAccessReview", "SelfSubjectReview")


def answer(rtype: ResourceType, body: JSON) -> JSON:
    """The review with its status filled in."""
    reply = dict(body, apiVersion=rtype.api_version, kind=rtype.kind)
    reply["metadata"] = {"creationTimestamp": None}
    if rtype.kind == "SelfSubjectReview":
        reply["status"] = {"userInfo": USER}
    else:
        reply["status"] = {"allowed": True, "reason": "the simulator allows everything"}
    return reply
