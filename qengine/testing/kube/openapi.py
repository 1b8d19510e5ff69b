"""A minimal OpenAPI v3 document: enough for kubectl to validate on the server.

kubectl fetches ``/openapi/v3`` and the document of an object's group-version to decide
whether the server validates fields itself (a PATCH operation for the kind with a
``fieldValidation`` query parameter). Declaring that, kubectl sends ``fieldValidation`` and
skips client-side schema validation; strategic-merge-patch is not declared, so ``kubectl
apply`` computes its patches from its built-in types (or a merge patch for custom
resources). No schemas are served: ``kubectl explain`` does not work. ``/openapi/v2`` is 404.
"""

from __future__ import annotations

import hashlib
from typing import Any

from qengine.testing.kube.resources import ResourceType, TypeRegistry

JSON = dict[str, Any]
_PARAMS = ("fieldValidation", "dryRun", "fieldManager", "force")
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def root(types: TypeRegistry) -> JSON:
    """The ``/openapi/v3`` discovery document."""
    paths: JSON = {}
    for rtype in types.all():
        gv = _gv_path(rtype.group, rtype.version)
        digest = hashlib.sha256(
            ",".join(
                sorted(t.plural for t in types.all() if _gv_path(t.group, t.version) == gv)
            ).encode()
        )
        paths[gv] = {
            "serverRelativeURL": f"/openapi/v3/{gv}?hash={digest.hexdigest()[:32].upper()}"
        }
    return {"paths": paths}


def _patch_operation(rtype: ResourceType) -> JSON:
    gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    return {
        "operationId": f"patch{rtype.kind}",
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": gvk,
        "parameters": [
            {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for name in _PARAMS
        ],
        "requestBody": {
            "content": {t: {"schema": {"type": "object"}} for t in _PATCH_TYPES},
            "required": True,
        },
        "responses": {"200": {"description": "OK"}},
    }


def group_version(types: TypeRegistry, gv_path: str) -> JSON | None:
    """The OpenAPI document of one group-version (``api/v1``, ``apis/apps/v1``), or None."""
    served = [t for t in types.all() if _gv_path(t.group, t.version) == gv_path]
    if not served:
        return None
    paths: JSON = {}
    for rtype in served:
        prefix = f"/{gv_path}/namespaces/{{namespace}}" if rtype.namespaced else f"/{gv_path}"
        paths[f"{prefix}/{rtype.plural}/{{name}}"] = {"patch": _patch_operation(rtype)}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }
