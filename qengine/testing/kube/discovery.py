"""Discovery documents: ``/version``, ``/api``, ``/apis`` and the per-group-version lists.

Only the legacy (unaggregated) discovery format is served; clients that ask for aggregated
discovery accept the plain ``application/json`` answer and fall back, as they do against
older servers.
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.resources import PREFERRED_VERSIONS, ResourceType, TypeRegistry

JSON = dict[str, Any]

# kubectl 1.32 and later send protobuf bodies for imperative commands (``kubectl create``),
# which the simulator does not decode; the image's kubectl dispatcher picks its kubectl by
# this minor version, so 1.31 keeps every kubectl command on JSON.
DEFAULT_VERSION = "1.31"

# Subresources served beside the main resource: name -> (kind, group, version, verbs).
_LOG = ("Pod", "", "v1", ("get",))
_SCALE = ("Scale", "autoscaling", "v1", ("get", "patch", "update"))


def version(server_version: str = DEFAULT_VERSION) -> JSON:
    """The ``/version`` document (the kubectl dispatcher picks its kubectl by ``minor``)."""
    major, minor = server_version.split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{major}.{minor}.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def core_versions(address: str) -> JSON:
    """The ``/api`` document."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _group_versions(types: TypeRegistry) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for rtype in types.all():
        if rtype.group and rtype.version not in groups.setdefault(rtype.group, []):
            groups[rtype.group].append(rtype.version)
    return groups


def _group(name: str, versions: list[str]) -> JSON:
    preferred = PREFERRED_VERSIONS.get(name, versions[0])
    return {
        "name": name,
        "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{name}/{preferred}", "version": preferred},
    }


def group_list(types: TypeRegistry) -> JSON:
    """The ``/apis`` document."""
    groups = [_group(n, v) for n, v in _group_versions(types).items()]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(types: TypeRegistry, name: str) -> JSON | None:
    """The ``/apis/<group>`` document, or None for an unknown group."""
    versions = _group_versions(types).get(name)
    if not versions:
        return None
    return dict(_group(name, versions), kind="APIGroup", apiVersion="v1")


def _entry(rtype: ResourceType) -> JSON:
    entry: JSON = {
        "name": rtype.plural,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    return entry


def _sub(rtype: ResourceType, sub: str, spec: tuple[str, str, str, tuple[str, ...]]) -> JSON:
    kind, group_name, ver, verbs = spec
    entry: JSON = {
        "name": f"{rtype.plural}/{sub}",
        "singularName": "",
        "namespaced": rtype.namespaced,
        "kind": kind,
        "verbs": list(verbs),
    }
    if group_name:
        entry["group"], entry["version"] = group_name, ver
    return entry


def resource_list(types: TypeRegistry, group_name: str, ver: str) -> JSON | None:
    """The ``/api/v1`` or ``/apis/<group>/<version>`` resource list, or None if not served."""
    served = [t for t in types.all() if (t.group, t.version) == (group_name, ver)]
    if not served:
        return None
    resources = []
    for rtype in served:
        resources.append(_entry(rtype))
        if rtype.has_status:
            resources.append(
                _sub(rtype, "status", (rtype.kind, "", "", ("get", "patch", "update")))
            )
        if rtype.has_scale:
            resources.append(_sub(rtype, "scale", _SCALE))
        if rtype.kind == "Pod":
            resources.append(_sub(rtype, "log", _LOG))
            resources.append(_sub(rtype, "eviction", ("Eviction", "policy", "v1", ("create",))))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group_name}/{ver}" if group_name else ver,
        "resources": resources,
    }
