"""Validation the API server does before storing an object (422 Invalid).

These are the checks of Kubernetes' own validation code (``pkg/apis/*/validation``) for the
fields the simulator serves and tools get wrong in practice, with its field paths, cause
reasons and messages: names (DNS-1123 subdomains; labels for namespaces and services),
required fields (a Pod's containers and their names and images, a workload's selector
matching its template labels), enumerations (``imagePullPolicy``, ``restartPolicy`` and the
restart policy each controller allows, port ``protocol``, Service ``type``, Deployment
strategy ``type``), port numbers (1-65535) and port names (IANA service names, unique per
container), Service port names (DNS-1123 labels, required when there are several) and
target ports, non-negative counts (``replicas``, ``revisionHistoryLimit``, Job
``parallelism``, ``completions``, ``backoffLimit``...), rolling-update parameters, and
ConfigMap/Secret keys.

They run on the defaulted object, as the real server validates after defaulting. Failures
are 422 Invalid with ``details.causes``; the message joins several causes in brackets, as
Kubernetes' aggregate errors do.
"""

from __future__ import annotations

import re
from typing import Any

from qengine.testing.kube.gofmt import go_quote
from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.schemas import go_number
from qengine.testing.kube.selectors import match_labels
from qengine.testing.kube.status import ApiError

JSON = dict[str, Any]
Cause = tuple[str, str, str]

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PORT_NAME_CHARS = re.compile(r"^[-a-z0-9]+$")
_HAS_LETTER = re.compile(r"[a-z]")
_PERCENT = re.compile(r"^[0-9]+%$")
_LABEL_KINDS = {"Namespace", "Service"}
_WORKLOADS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"}
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_NEGATIVE = "must be greater than or equal to 0"
_PORT_RANGE = "must be between 1 and 65535, inclusive"

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
PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  "
    "or '93%', regex used for validation is '[0-9]+%')"
)


# -- causes, worded as k8s.io/apimachinery/pkg/util/validation/field words them ------------


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_number(value)
    if isinstance(value, str):
        return go_quote(value)
    return str(value)


def _required(path: str, detail: str = "") -> Cause:
    return ("FieldValueRequired", path, f"Required value: {detail}" if detail else "Required value")


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return ("FieldValueInvalid", path, f"Invalid value: {_value(value)}: {detail}")


def _duplicate(path: str, value: Any) -> Cause:
    return ("FieldValueDuplicate", path, f"Duplicate value: {_value(value)}")


def _forbidden(path: str, detail: str) -> Cause:
    return ("FieldValueForbidden", path, f"Forbidden: {detail}")


def _not_supported(path: str, value: Any, allowed: tuple[str, ...]) -> Cause:
    values = ", ".join(go_quote(v) for v in allowed)
    return (
        "FieldValueNotSupported",
        path,
        f"Unsupported value: {_value(value)}: supported values: {values}",
    )


def _intstr(value: Any) -> str:
    """How Go's ``%#v`` prints an ``intstr.IntOrString`` (it has no value-receiver String)."""
    if isinstance(value, str):
        return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}"
    return f'intstr.IntOrString{{Type:0, IntVal:{value}, StrVal:""}}'


# -- names and keys -----------------------------------------------------------------------


def name_causes(kind: str, name: str) -> list[Cause]:
    """Causes for an invalid object name (empty when the name is fine)."""
    if kind in _LABEL_KINDS:
        if len(name) > 63 or not _LABEL.match(name):
            return [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {LABEL_MSG}')]
        return []
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        return [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {SUBDOMAIN_MSG}')]
    return []


def _dns_label(path: str, value: str) -> list[Cause]:
    causes = []
    if len(value) > 63:
        causes.append(_invalid(path, value, "must be no more than 63 characters"))
    if not _LABEL.match(value):
        detail = "must not contain dots" if _SUBDOMAIN.match(value) else LABEL_MSG
        causes.append(_invalid(path, value, detail))
    return causes


def _port_name(path: str, name: str) -> list[Cause]:
    """``IsValidPortName``: an IANA service name."""
    messages = []
    if len(name) > 15:
        messages.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.match(name):
        messages.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _HAS_LETTER.search(name):
        messages.append("must contain at least one letter (a-z)")
    if "--" in name:
        messages.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        messages.append("must not begin or end with a hyphen")
    return [_invalid(path, name, m) for m in messages]


def _port_number(path: str, port: Any) -> list[Cause]:
    if isinstance(port, int) and not isinstance(port, bool) and not 1 <= port <= 65535:
        return [_invalid(path, port, _PORT_RANGE)]
    return []


def _nonnegative(spec: JSON, field: str, prefix: str) -> list[Cause]:
    value = spec.get(field)
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [_invalid(f"{prefix}.{field}", value, _NEGATIVE)]
    return []


def _data_keys(obj: JSON) -> list[Cause]:
    causes = []
    for field in ("data", "binaryData", "stringData"):
        for key in obj.get(field) or {}:
            if not re.match(r"^[-._a-zA-Z0-9]+$", key):
                causes.append(("FieldValueInvalid", f"{field}[{key}]", f'Invalid value: "{key}"'))
    return causes


# -- pod specs ----------------------------------------------------------------------------


def _container_ports(ports: Any, prefix: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for index, port in enumerate(ports if isinstance(ports, list) else []):
        if not isinstance(port, dict):
            continue
        where = f"{prefix}[{index}]"
        name = port.get("name")
        if name:
            bad = _port_name(f"{where}.name", name)
            if bad:
                causes += bad
            elif name in names:
                causes.append(_duplicate(f"{where}.name", name))
            names.add(name)
        if not port.get("containerPort"):
            causes.append(_required(f"{where}.containerPort"))
        else:
            causes += _port_number(f"{where}.containerPort", port["containerPort"])
        if port.get("hostPort"):
            causes += _port_number(f"{where}.hostPort", port["hostPort"])
        protocol = port.get("protocol")
        if protocol is not None and protocol not in _PROTOCOLS:
            causes.append(_not_supported(f"{where}.protocol", protocol, _PROTOCOLS))
    return causes


def _containers(spec: Any, prefix: str, field: str = "containers") -> list[Cause]:
    containers = spec.get(field) if isinstance(spec, dict) else None
    if not containers:
        return [_required(f"{prefix}.{field}")] if field == "containers" else []
    causes: list[Cause] = []
    names: set[str] = set()
    for index, container in enumerate(containers):
        if not isinstance(container, dict):
            continue
        where = f"{prefix}.{field}[{index}]"
        name = container.get("name")
        if not name:
            causes.append(_required(f"{where}.name"))
        else:
            causes += _dns_label(f"{where}.name", name)
            if name in names:
                causes.append(_duplicate(f"{where}.name", name))
            names.add(name)
        if not container.get("image"):
            causes.append(_required(f"{where}.image"))
        causes += _container_ports(container.get("ports"), f"{where}.ports")
        policy = container.get("imagePullPolicy")
        if policy is not None and policy not in _PULL_POLICIES:
            causes.append(_not_supported(f"{where}.imagePullPolicy", policy, _PULL_POLICIES))
    return causes


def _pod_spec(spec: Any, prefix: str) -> list[Cause]:
    causes = _containers(spec, prefix, "initContainers") + _containers(spec, prefix)
    policy = spec.get("restartPolicy") if isinstance(spec, dict) else None
    if policy is not None and policy not in _RESTART_POLICIES:
        causes.append(_not_supported(f"{prefix}.restartPolicy", policy, _RESTART_POLICIES))
    return causes


def _template_spec(spec: JSON) -> Any:
    template = spec.get("template")
    return template.get("spec") if isinstance(template, dict) else None


# -- kinds --------------------------------------------------------------------------------


def _workload(obj: JSON) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    if obj.get("kind") != "DaemonSet":
        causes += _nonnegative(spec, "replicas", "spec")
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        causes.append(_required("spec.selector"))
    elif not match_labels(selector, labels):
        causes.append(
            (
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                f"Invalid value: {labels!r}: `selector` does not match template `labels`",
            )
        )
    pod = template.get("spec")
    causes += _pod_spec(pod, "spec.template.spec")
    # Controllers that keep pods running accept no other restart policy.
    policy = (pod or {}).get("restartPolicy", "Always")
    if policy != "Always":
        causes.append(_not_supported("spec.template.spec.restartPolicy", policy, ("Always",)))
    if obj.get("kind") == "Deployment":
        causes += _deployment(spec)
    return causes


def _deployment(spec: JSON) -> list[Cause]:
    causes = _strategy(spec.get("strategy") or {})
    for field in ("minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        causes += _nonnegative(spec, field, "spec")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= int(spec.get("minReadySeconds") or 0):
        causes.append(
            _invalid(
                "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
            )
        )
    return causes


def _strategy(strategy: JSON) -> list[Cause]:
    kind = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            detail = "may not be specified when strategy `type` is 'Recreate'"
            return [_forbidden("spec.strategy.rollingUpdate", detail)]
        return []
    if kind == "RollingUpdate":
        return _rolling_update(rolling or {}, "spec.strategy.rollingUpdate")
    pointer = "nil" if rolling is None else "0xc000a4c0c0"
    shown = (
        f"apps.DeploymentStrategy{{Type:{go_quote(str(kind or ''))}, "
        f"RollingUpdate:(*apps.RollingUpdateDeployment)({pointer})}}"
    )
    allowed = ", ".join(go_quote(v) for v in ("Recreate", "RollingUpdate"))
    return [
        (
            "FieldValueNotSupported",
            "spec.strategy",
            f"Unsupported value: {shown}: supported values: {allowed}",
        )
    ]


def _int_or_percent(value: Any, path: str) -> tuple[list[Cause], int]:
    if isinstance(value, str):
        if not _PERCENT.match(value):
            message = f"Invalid value: {_intstr(value)}: {PERCENT_MSG}"
            return [("FieldValueInvalid", path, message)], 0
        return [], int(value[:-1])
    if isinstance(value, int) and not isinstance(value, bool):
        return ([_invalid(path, value, _NEGATIVE)] if value < 0 else []), value
    return [], 0


def _rolling_update(rolling: JSON, prefix: str) -> list[Cause]:
    unavailable = rolling.get("maxUnavailable", "25%")
    causes, unavailable_value = _int_or_percent(unavailable, f"{prefix}.maxUnavailable")
    surge = rolling.get("maxSurge", "25%")
    surge_causes, surge_value = _int_or_percent(surge, f"{prefix}.maxSurge")
    causes += surge_causes
    if unavailable_value == 0 and surge_value == 0:
        causes.append(
            (
                "FieldValueInvalid",
                f"{prefix}.maxUnavailable",
                f"Invalid value: {_intstr(unavailable)}: may not be 0 when `maxSurge` is 0",
            )
        )
    if isinstance(unavailable, str) and unavailable_value > 100:
        causes.append(
            (
                "FieldValueInvalid",
                f"{prefix}.maxUnavailable",
                f"Invalid value: {_intstr(unavailable)}: must not be greater than 100%",
            )
        )
    return causes


def _job_spec(spec: Any, prefix: str) -> list[Cause]:
    if not isinstance(spec, dict):
        spec = {}
    causes: list[Cause] = []
    for field in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit"):
        causes += _nonnegative(spec, field, prefix)
    pod = _template_spec(spec)
    path = f"{prefix}.template.spec"
    causes += _pod_spec(pod, path)
    # A pod spec's restart policy defaults to Always, which a Job refuses.
    policy = (pod if isinstance(pod, dict) else {}).get("restartPolicy") or "Always"
    if policy == "Always":
        causes.append(_required(f"{path}.restartPolicy", 'valid values: "OnFailure", "Never"'))
    elif policy not in ("OnFailure", "Never"):
        causes.append(_not_supported(f"{path}.restartPolicy", policy, ("OnFailure", "Never")))
    return causes


def _cron_job(obj: JSON) -> list[Cause]:
    template = (obj.get("spec") or {}).get("jobTemplate")
    spec = template.get("spec") if isinstance(template, dict) else None
    return _job_spec(spec, "spec.jobTemplate.spec")


def _service(obj: JSON) -> list[Cause]:
    spec = obj.get("spec") or {}
    kind = spec.get("type")
    ports = spec.get("ports") or []
    causes: list[Cause] = []
    if not ports and spec.get("clusterIP") != "None" and kind != "ExternalName":
        causes.append(_required("spec.ports"))
    names: set[str] = set()
    for index, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        where = f"spec.ports[{index}]"
        name = port.get("name")
        if len(ports) > 1 and not name:
            causes.append(_required(f"{where}.name"))
        elif name:
            causes += _dns_label(f"{where}.name", name)
            if name in names:
                causes.append(_duplicate(f"{where}.name", name))
            names.add(name)
        number = port.get("port", 0)
        if isinstance(number, int) and not 1 <= number <= 65535:
            causes.append(_invalid(f"{where}.port", number, _PORT_RANGE))
        protocol = port.get("protocol")
        if protocol is not None and protocol not in _PROTOCOLS:
            causes.append(_not_supported(f"{where}.protocol", protocol, _PROTOCOLS))
        target = port.get("targetPort")
        if isinstance(target, str):
            causes += _port_name(f"{where}.targetPort", target)
        elif isinstance(target, int):
            causes += _port_number(f"{where}.targetPort", target)
    if kind is not None and kind not in _SERVICE_TYPES:
        causes.append(_not_supported("spec.type", kind, _SERVICE_TYPES))
    return causes


def kind_causes(obj: JSON) -> list[Cause]:
    """Causes for invalid fields of the object's kind."""
    kind = obj.get("kind")
    if kind == "Pod":
        return _pod_spec(obj.get("spec"), "spec")
    if kind in _WORKLOADS:
        return _workload(obj)
    if kind == "Job":
        return _job_spec(obj.get("spec"), "spec")
    if kind == "CronJob":
        return _cron_job(obj)
    if kind == "Service":
        return _service(obj)
    if kind == "ConfigMap" or kind == "Secret":
        return _data_keys(obj)
    return []


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid with ``details.causes``; several causes are joined in brackets, as
    Kubernetes' aggregate errors print them (a repeated message only once)."""
    texts = list(dict.fromkeys(f"{field}: {message}" for _, field, message in causes))
    text = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details: JSON = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    details["causes"] = [{"reason": r, "message": m, "field": f} for r, f, m in causes]
    qualified = f"{kind}.{group}" if group else kind
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details=details)


def validate(rtype: ResourceType, obj: JSON) -> None:
    """Raise 422 Invalid when ``obj`` is not acceptable for ``rtype``."""
    name = str(obj.get("metadata", {}).get("name") or "")
    if not name:
        causes: list[Cause] = [_required("metadata.name", "name or generateName is required")]
    else:
        causes = name_causes(rtype.kind, name)
    causes += kind_causes(obj)
    if causes:
        raise invalid(rtype.kind, rtype.group, name, causes)
