"""Validation the API server does before storing an object (a pragmatic subset).

Names must be DNS-1123 subdomains (labels for namespaces and services); a name or
generateName is required; a few kinds have required fields (a Pod's containers and their
images, a Deployment's selector matching its template labels). Failures are 422 Invalid with
``details.causes``, as the real server sends them.
"""

from __future__ import annotations

import re
from typing import Any

from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.selectors import match_labels
from qengine.testing.kube.status import invalid

JSON = dict[str, Any]
Cause = tuple[str, str, str]

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_KINDS = {"Namespace", "Service"}
_WORKLOADS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"}

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def name_causes(kind: str, name: str) -> list[Cause]:
    """Causes for an invalid object name (empty when the name is fine)."""
    if kind in _LABEL_KINDS:
        if len(name) > 63 or not _LABEL.match(name):
            return [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {LABEL_MSG}')]
        return []
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        return [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {SUBDOMAIN_MSG}')]
    return []


def _containers(spec: Any, prefix: str) -> list[Cause]:
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not containers:
        return [("FieldValueRequired", f"{prefix}.containers", "Required value")]
    causes = []
    for index, container in enumerate(containers):
        where = f"{prefix}.containers[{index}]"
        if not container.get("name"):
            causes.append(("FieldValueRequired", f"{where}.name", "Required value"))
        if not container.get("image"):
            causes.append(("FieldValueRequired", f"{where}.image", "Required value"))
    return causes


def _workload(obj: JSON) -> list[Cause]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    causes = _containers(template.get("spec"), "spec.template.spec")
    if not selector:
        causes.append(("FieldValueRequired", "spec.selector", "Required value"))
    elif not match_labels(selector, labels):
        causes.append(
            (
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                f"Invalid value: {labels!r}: `selector` does not match template `labels`",
            )
        )
    return causes


def kind_causes(obj: JSON) -> list[Cause]:
    """Causes for missing or inconsistent required fields of the object's kind."""
    kind = obj.get("kind")
    if kind == "Pod":
        return _containers(obj.get("spec"), "spec")
    if kind in _WORKLOADS:
        return _workload(obj)
    if kind == "Job":
        return _containers(
            (obj.get("spec") or {}).get("template", {}).get("spec"), "spec.template.spec"
        )
    if kind == "ConfigMap" or kind == "Secret":
        return _data_keys(obj)
    return []


def _data_keys(obj: JSON) -> list[Cause]:
    causes = []
    for field in ("data", "binaryData", "stringData"):
        for key in obj.get(field) or {}:
            if not re.match(r"^[-._a-zA-Z0-9]+$", key):
                causes.append(("FieldValueInvalid", f"{field}[{key}]", f'Invalid value: "{key}"'))
    return causes


def validate(rtype: ResourceType, obj: JSON) -> None:
    """Raise 422 Invalid when ``obj`` is not acceptable for ``rtype``."""
    name = str(obj.get("metadata", {}).get("name") or "")
    if not name:
        causes: list[Cause] = [
            (
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )
        ]
    else:
        causes = name_causes(rtype.kind, name)
    causes += kind_causes(obj)
    if causes:
        raise invalid(rtype.kind, rtype.group, name, causes)
