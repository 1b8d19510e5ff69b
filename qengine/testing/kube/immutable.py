"""Fields an update may not change: the immutability rules of the built-in kinds.

:func:`check` is called on every update of an object's main resource (PUT, each patch type,
server-side apply, dry-run included) after defaulting, with the stored object; it raises 422
Invalid with the causes the real API server gives (``field is immutable`` and the kinds'
own messages, at the same field paths). The rules, from Kubernetes 1.31's
``pkg/apis/*/validation`` and the registry strategies:

=============================  ===============================================================
Deployment, ReplicaSet,        ``spec.selector`` (``apps/v1`` strategies)
DaemonSet
StatefulSet                    ``spec``: only ``replicas``, ``ordinals``, ``template``,
                               ``updateStrategy``, ``persistentVolumeClaimRetentionPolicy``
                               and ``minReadySeconds`` may change (so not ``selector``,
                               ``serviceName``, ``volumeClaimTemplates``,
                               ``podManagementPolicy``, ``revisionHistoryLimit``)
Job                            ``spec.selector``, ``spec.template`` (except, while suspended
                               and never started, its node selector, affinity, tolerations,
                               scheduling gates, labels and annotations),
                               ``spec.completions`` (Indexed Jobs: only with ``parallelism``),
                               ``completionMode``, ``podFailurePolicy``,
                               ``backoffLimitPerIndex``, ``managedBy``, ``successPolicy``
Pod                            ``spec`` except container and init container images,
                               ``activeDeadlineSeconds`` (set, or lowered), added tolerations
                               (and their ``tolerationSeconds``), removed scheduling gates
                               (and, while gated, added node selectors), a negative
                               ``terminationGracePeriodSeconds`` set to 1; no container may be
                               added or removed
Service                        ``spec.clusterIPs`` and ``spec.ipFamilies`` (the primary entry
                               once set; a secondary one only released with ``SingleStack``),
                               ``spec.loadBalancerClass`` of a LoadBalancer; none of it for
                               ExternalName services or between headless ones
ConfigMap                      with ``immutable: true``: ``data``, ``binaryData`` and
                               ``immutable`` itself
Secret                         ``type``; with ``immutable: true``: ``data`` (``stringData`` is
                               folded into it first) and ``immutable``
PersistentVolumeClaim          ``spec`` except a bound claim's ``resources.requests`` (storage
                               may not shrink), ``volumeName`` once, ``storageClassName`` from
                               unset; ``volumeMode``
PersistentVolume               the volume source, ``volumeMode``, ``nodeAffinity`` once set
StorageClass                   ``parameters``, ``provisioner``, ``reclaimPolicy``,
                               ``volumeBindingMode``
IngressClass                   ``spec.controller``
RoleBinding,                   ``roleRef``
ClusterRoleBinding
EndpointSlice                  ``addressType``
ControllerRevision             ``data``
CustomResourceDefinition       ``spec.group``, ``spec.names.plural``; ``spec.scope`` and
                               ``spec.names.kind`` once established
Namespace                      ``spec.finalizers`` (only ``/finalize`` changes them; an update
                               keeps the old ones, silently)
every namespaced kind          ``metadata.namespace`` (400: :func:`check_namespace`)
=============================  ===============================================================

Values are compared as the server's semantic equality does, with absent, null and empty
values alike; quantities by value. The Go dump of a struct value in a message, and the
``cmp.Diff`` after a ``Forbidden`` message's first line, are abbreviated renderings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from qengine.testing.kube.documents import clone
from qengine.testing.kube.gofmt import (
    go_quote,
    go_struct,
    go_syntax,
    go_value,
    label_selector,
    string_list,
)
from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.status import bad_request
from qengine.testing.kube.validation import invalid

JSON = dict[str, Any]
Cause = tuple[str, str, str]
Rule = Callable[[JSON, JSON], list[Cause]]

IMMUTABLE = "field is immutable"
STATEFULSET_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
    "forbidden"
)
POD_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
    "set to 1 if it was previously negative)"
)
PVC_FORBIDDEN = (
    "spec is immutable after creation except resources.requests and volumeAttributesClassName "
    "for bound claims"
)
WHEN_IMMUTABLE = "field is immutable when `immutable` is set"


def check(rtype: ResourceType, old: JSON, new: JSON) -> None:
    """Raise 422 Invalid when the update from ``old`` to ``new`` changes an immutable field.

    As the real registry does before validating, an update that leaves a Service's cluster
    IPs empty keeps the allocated ones: ``new`` is completed in place.
    """
    rule = _RULES.get((rtype.group, rtype.kind))
    if rule is None:
        return
    found = rule(old, new)
    if found:
        name = str(new.get("metadata", {}).get("name") or old["metadata"].get("name", ""))
        raise invalid(rtype.kind, rtype.group, name, found)


def check_namespace(rtype: ResourceType, namespace: str, body: JSON) -> None:
    """400 when an update's object names another namespace than its URL (an object cannot
    move: ``rest.BeforeUpdate``); a cluster-scoped object's namespace is ignored."""
    meta = body.get("metadata")
    given = meta.get("namespace") if isinstance(meta, dict) else None
    if rtype.namespaced and given not in (None, "", namespace):
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


# -- comparison --------------------------------------------------------------------------


def _norm(value: Any) -> Any:
    """A value with empty entries dropped, so that absent, null and empty compare equal."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            normed = _norm(item)
            if not _empty(normed):
                out[key] = normed
        return out
    if isinstance(value, list):
        return [_norm(item) for item in value]
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value is False or value == {} or value == []


def same(a: Any, b: Any) -> bool:
    """Semantic equality of two JSON values (see the module docstring)."""
    na, nb = _norm(a), _norm(b)
    if _empty(na) and _empty(nb):
        return True
    return bool(na == nb)


def _spec(obj: JSON) -> JSON:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _immutable(field: str, shown: str) -> Cause:
    return ("FieldValueInvalid", field, f"Invalid value: {shown}: {IMMUTABLE}")


def _invalid(field: str, shown: str, detail: str) -> Cause:
    return ("FieldValueInvalid", field, f"Invalid value: {shown}: {detail}")


def _forbidden(field: str, detail: str) -> Cause:
    return ("FieldValueForbidden", field, f"Forbidden: {detail}")


def _diff(type_name: str, old: JSON, new: JSON) -> str:
    """A ``cmp.Diff``-like rendering of the changed fields of two structs."""
    lines = [f"  {type_name}{{"]
    keys = list(old) + [k for k in new if k not in old]
    for key in keys:
        if same(old.get(key), new.get(key)):
            continue
        name = key[:1].upper() + key[1:]
        if not _empty(_norm(old.get(key))):
            lines.append(f"- \t{name}: {go_syntax(old.get(key))},")
        if not _empty(_norm(new.get(key))):
            lines.append(f"+ \t{name}: {go_syntax(new.get(key))},")
    lines.append("  }")
    return "\n".join(lines)


# -- workloads ---------------------------------------------------------------------------


def _selector(old: JSON, new: JSON) -> list[Cause]:
    selector = _spec(new).get("selector")
    if same(selector, _spec(old).get("selector")):
        return []
    return [_immutable("spec.selector", label_selector(selector))]


_STATEFULSET_MUTABLE = frozenset(
    (
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    )
)


def _statefulset(old: JSON, new: JSON) -> list[Cause]:
    def fixed(obj: JSON) -> JSON:
        return {k: v for k, v in _spec(obj).items() if k not in _STATEFULSET_MUTABLE}

    if same(fixed(old), fixed(new)):
        return []
    return [_forbidden("spec", STATEFULSET_FORBIDDEN)]


def _job(old: JSON, new: JSON) -> list[Cause]:
    o, n = _spec(old), _spec(new)
    found = _job_completions(o, n)
    if not same(n.get("selector"), o.get("selector")):
        found.append(_immutable("spec.selector", label_selector(n.get("selector"))))
    template = n.get("template") or {}
    if not same(template, _job_old_template(old, template)):
        found.append(_immutable("spec.template", go_struct("core.PodTemplateSpec", template)))
    for field in (
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ):
        if not same(n.get(field), o.get(field)):
            shown = go_value(n.get(field))
            if isinstance(n.get(field), dict):
                shown = go_struct(f"batch.{field[:1].upper()}{field[1:]}", n.get(field))
            found.append(_immutable(f"spec.{field}", shown))
    return found


def _job_completions(o: JSON, n: JSON) -> list[Cause]:
    completions = n.get("completions")
    if same(completions, o.get("completions")):
        return []
    if n.get("completionMode") != "Indexed":
        return [_immutable("spec.completions", go_value(completions))]
    if completions is not None and completions != n.get("parallelism"):
        detail = "can only be modified in tandem with spec.parallelism"
        return [_invalid("spec.completions", go_value(completions), detail)]
    return []


def _job_old_template(old: JSON, template: JSON) -> JSON:
    """The old template, with what a suspended Job that never started may change taken from
    the new one (node selector, affinity's node affinity, tolerations, scheduling gates,
    labels and annotations)."""
    previous: JSON = clone(_spec(old).get("template") or {})
    if not (_spec(old).get("suspend") is True and not (old.get("status") or {}).get("startTime")):
        return previous
    pod, new_pod = previous.setdefault("spec", {}), template.get("spec") or {}
    affinity, new_affinity = pod.get("affinity"), new_pod.get("affinity")
    if new_affinity is None and isinstance(affinity, dict):
        rest = {k: v for k, v in affinity.items() if k != "nodeAffinity"}
        pod["affinity"] = rest or None
    elif isinstance(new_affinity, dict):
        pod["affinity"] = dict(affinity or {}, nodeAffinity=new_affinity.get("nodeAffinity"))
    for field in ("nodeSelector", "tolerations", "schedulingGates"):
        pod[field] = new_pod.get(field)
    meta = previous.setdefault("metadata", {})
    new_meta = template.get("metadata") or {}
    for field in ("labels", "annotations"):
        meta[field] = new_meta.get(field)
    return previous


def _pod(old: JSON, new: JSON) -> list[Cause]:
    o, n = _spec(old), _spec(new)
    for field in ("containers", "initContainers"):
        if len(n.get(field) or []) != len(o.get(field) or []):
            return [_forbidden(f"spec.{field}", "pod updates may not add or remove containers")]
    found = _pod_deadline(o, n)
    if found and n.get("activeDeadlineSeconds") is not None:
        return found  # the server stops at a deadline out of range or raised
    found += _pod_tolerations(o, n) + _pod_gates(o, n)
    if same(n, o):
        return found
    munged = _pod_munged(o, n, found)
    if not same(munged, o):
        found.append(_forbidden("spec", f"{POD_FORBIDDEN}\n{_diff('core.PodSpec', o, munged)}"))
    return found


def _pod_deadline(o: JSON, n: JSON) -> list[Cause]:
    new, previous = n.get("activeDeadlineSeconds"), o.get("activeDeadlineSeconds")
    field = "spec.activeDeadlineSeconds"
    if new is None:
        if previous is None:
            return []
        return [_invalid(field, '"null"', "must not update from a positive integer to nil value")]
    if not isinstance(new, int) or new < 0 or new > 2**31 - 1:
        return [_invalid(field, go_value(new), "must be between 0 and 2147483647, inclusive")]
    if isinstance(previous, int) and previous < new:
        return [_invalid(field, str(new), "must be less than or equal to previous value")]
    return []


def _pod_tolerations(o: JSON, n: JSON) -> list[Cause]:
    new = [t for t in n.get("tolerations") or [] if isinstance(t, dict)]
    for toleration in o.get("tolerations") or []:
        if not isinstance(toleration, dict):
            continue
        if not any(
            same(dict(toleration, tolerationSeconds=t.get("tolerationSeconds")), t) for t in new
        ):
            detail = "existing toleration can not be modified except its tolerationSeconds"
            return [_forbidden("spec.tolerations", detail)]
    return []


def _pod_gates(o: JSON, n: JSON) -> list[Cause]:
    before = {g.get("name") for g in o.get("schedulingGates") or [] if isinstance(g, dict)}
    found = []
    for index, gate in enumerate(n.get("schedulingGates") or []):
        name = gate.get("name") if isinstance(gate, dict) else gate
        if name not in before:
            detail = f"only deletion is allowed, but found new scheduling gate '{name}'"
            found.append(_forbidden(f"spec.schedulingGates[{index}].name", detail))
    return found


def _pod_munged(o: JSON, n: JSON, found: list[Cause]) -> JSON:
    """The new pod spec with the fields an update may change set back to the old values."""
    munged = clone(n)
    for field in ("containers", "initContainers"):
        for index, container in enumerate(munged.get(field) or []):
            previous = (o.get(field) or [])[index]
            if isinstance(container, dict) and isinstance(previous, dict):
                container["image"] = previous.get("image")
    for field in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged[field] = o.get(field)
    grace = o.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = grace
    if o.get("schedulingGates"):
        selector, previous_selector = munged.get("nodeSelector") or {}, o.get("nodeSelector") or {}
        if any(selector.get(k) != v for k, v in previous_selector.items()):
            detail = "only additions to spec.nodeSelector are allowed (no mutations or deletions)"
            found.append(_invalid("spec.nodeSelector", go_syntax(selector), detail))
        munged["nodeSelector"] = o.get("nodeSelector")
        affinity = munged.get("affinity")
        if isinstance(affinity, dict):
            previous_affinity = (o.get("affinity") or {}).get("nodeAffinity")
            munged["affinity"] = dict(affinity, nodeAffinity=previous_affinity)
    return munged


# -- services ----------------------------------------------------------------------------


def _service(old: JSON, new: JSON) -> list[Cause]:
    o, n = _spec(old), new.setdefault("spec", {})
    if "ExternalName" in (o.get("type"), n.get("type")):
        return []
    _keep_allocated(o, n)
    found = _cluster_ips(o, n) + _ip_families(o, n)
    both = o.get("type") == "LoadBalancer" and n.get("type") == "LoadBalancer"
    if both and o.get("loadBalancerClass") != n.get("loadBalancerClass"):
        shown = go_value(n.get("loadBalancerClass"))
        found.append(_invalid("spec.loadBalancerClass", shown, "may not change once set"))
    return found


def _keep_allocated(o: JSON, n: JSON) -> None:
    """An update that leaves the cluster IPs empty keeps the allocated ones."""
    if not n.get("clusterIP") and o.get("clusterIP"):
        n["clusterIP"] = o["clusterIP"]
        for field in ("ipFamilies", "ipFamilyPolicy"):
            if not n.get(field) and o.get(field):
                n[field] = clone(o[field])
    if not n.get("clusterIPs") and o.get("clusterIPs") and n.get("clusterIP") == o.get("clusterIP"):
        n["clusterIPs"] = list(o["clusterIPs"])


def _headless(spec: JSON) -> bool:
    return list(spec.get("clusterIPs") or []) == ["None"]


def _cluster_ips(o: JSON, n: JSON) -> list[Cause]:
    if _headless(o) and _headless(n):
        return []
    before, after = list(o.get("clusterIPs") or []), list(n.get("clusterIPs") or [])
    shown = string_list(n.get("clusterIPs"))
    changed = "may not change once set"
    found: list[Cause] = []
    if len(before) == len(after):
        found += [
            _invalid(f"spec.clusterIPs[{i}]", shown, changed)
            for i, ip in enumerate(before)
            if ip != after[i]
        ]
    elif len(before) > len(after):
        if not after:
            found.append(
                _invalid("spec.clusterIPs[0]", shown, "primary clusterIP can not be unset")
            )
        elif after[0] != before[0]:
            found.append(_invalid("spec.clusterIPs[0]", shown, changed))
        if len(after) == 1 and n.get("ipFamilyPolicy") != "SingleStack":
            detail = "must be set to 'SingleStack' when releasing the secondary clusterIP"
            found.append(_invalid("spec.ipFamilyPolicy", go_value(n.get("ipFamilyPolicy")), detail))
    elif before and after[0] != before[0]:
        found.append(_invalid("spec.clusterIPs[0]", shown, changed))
    return found


def _ip_families(o: JSON, n: JSON) -> list[Cause]:
    if _headless(o) or _headless(n):
        return []
    before, after = list(o.get("ipFamilies") or []), list(n.get("ipFamilies") or [])
    families = string_list(n.get("ipFamilies"), "[]core.IPFamily")
    ips = string_list(n.get("clusterIPs"))
    changed = "may not change once set"
    found: list[Cause] = []
    if len(before) == len(after):
        found += [
            _invalid("spec.ipFamilies[0]", families, changed)
            for i, family in enumerate(before)
            if family != after[i]
        ]
    elif len(before) > len(after):
        if not n.get("clusterIPs"):
            found.append(
                _invalid("spec.ipFamilies[0]", families, "primary ipFamily can not be unset")
            )
        if after and after[0] != before[0]:
            found.append(_invalid("spec.ipFamilies[0]", ips, changed))
        if len(after) == 1 and n.get("ipFamilyPolicy") != "SingleStack":
            detail = "must be set to 'SingleStack' when releasing the secondary ipFamily"
            found.append(_invalid("spec.ipFamilyPolicy", go_value(n.get("ipFamilyPolicy")), detail))
    elif before and after and after[0] != before[0]:
        found.append(_invalid("spec.ipFamilies[0]", ips, changed))
    return found


# -- configuration -----------------------------------------------------------------------


def _configmap(old: JSON, new: JSON) -> list[Cause]:
    if old.get("immutable") is not True:
        return []
    found = []
    if new.get("immutable") is not True:
        found.append(_forbidden("immutable", WHEN_IMMUTABLE))
    for field in ("data", "binaryData"):
        if not same(new.get(field), old.get(field)):
            found.append(_forbidden(field, WHEN_IMMUTABLE))
    return found


def _secret(old: JSON, new: JSON) -> list[Cause]:
    found = []
    if new.get("type") != old.get("type"):
        found.append(_immutable("type", go_value(new.get("type"))))
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            found.append(_forbidden("immutable", WHEN_IMMUTABLE))
        if not same(new.get("data"), old.get("data")):
            found.append(_forbidden("data", WHEN_IMMUTABLE))
    return found


# -- storage -----------------------------------------------------------------------------

_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def quantity(value: Any) -> Decimal | None:
    """The value of a resource quantity (``1Gi``, ``500m``, ``1e3``), or None if unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip()) if isinstance(value, str) else None
    if match is None or match.group(2) not in _SUFFIXES:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation:
        return None


def _quantities(resources: Any) -> Any:
    """Resource lists with quantities replaced by their values (1Gi equals 1024Mi)."""
    if not isinstance(resources, dict):
        return resources
    out = {}
    for key, value in resources.items():
        if isinstance(value, dict):
            out[key] = {
                k: str(quantity(v)) if quantity(v) is not None else v for k, v in value.items()
            }
        else:
            out[key] = value
    return out


def _storage(spec: JSON) -> Any:
    return ((spec.get("resources") or {}).get("requests") or {}).get("storage")


def _pvc(old: JSON, new: JSON) -> list[Cause]:
    o, n = clone(_spec(old)), clone(_spec(new))
    for spec in (o, n):
        spec.setdefault("volumeMode", "Filesystem")
    found = _beta_class(old, new)
    before, after = clone(o), clone(n)
    if not o.get("volumeName"):
        before["volumeName"] = n.get("volumeName")
    old_class = (old.get("metadata", {}).get("annotations") or {}).get(_BETA_CLASS)
    new_class = n.get("storageClassName")
    from_nil = o.get("storageClassName") is None and new_class is not None
    if from_nil and old_class in (None, new_class):
        after["storageClassName"] = None
    bound = (old.get("status") or {}).get("phase") == "Bound"
    requests = (after.get("resources") or {}).get("requests")
    if bound and isinstance(requests, dict):
        requests["storage"] = _storage(o)
    after["volumeAttributesClassName"] = before.get("volumeAttributesClassName")
    for spec in (before, after):
        spec["resources"] = _quantities(spec.get("resources"))
    if not same(after, before):
        found.append(
            _forbidden(
                "spec", f"{PVC_FORBIDDEN}\n{_diff('core.PersistentVolumeClaimSpec', before, after)}"
            )
        )
    size, previous = quantity(_storage(n)), quantity(_storage(o))
    if size is not None and previous is not None and size < previous:
        found.append(
            _forbidden(
                "spec.resources.requests.storage", "field can not be less than previous value"
            )
        )
    if n.get("volumeMode") != o.get("volumeMode"):
        found.append(_immutable("volumeMode", go_value(n.get("volumeMode"))))
    return found


def _beta_class(old: JSON, new: JSON) -> list[Cause]:
    before = (old.get("metadata", {}).get("annotations") or {}).get(_BETA_CLASS)
    after = (new.get("metadata", {}).get("annotations") or {}).get(_BETA_CLASS)
    if before == after or (before is None and after is None):
        return []
    field = f"metadata.annotations[{_BETA_CLASS}]"
    return [_immutable(field, go_quote(after or ""))]


_VOLUME_SOURCES = (
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "glusterfs",
    "hostPath",
    "iscsi",
    "local",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
)


def _pv(old: JSON, new: JSON) -> list[Cause]:
    o, n = _spec(old), _spec(new)
    before = {k: o[k] for k in _VOLUME_SOURCES if k in o}
    after = {k: clone(n[k]) for k in _VOLUME_SOURCES if k in n}
    csi, new_csi = before.get("csi"), after.get("csi")
    if (
        isinstance(csi, dict)
        and isinstance(new_csi, dict)
        and "controllerExpandSecretRef" not in csi
    ):
        new_csi.pop("controllerExpandSecretRef", None)
    found = []
    if not same(before, after):
        detail = "spec.persistentvolumesource is immutable after creation"
        diff = _diff("core.PersistentVolumeSource", before, after)
        found.append(_forbidden("spec.persistentvolumesource", f"{detail}\n{diff}"))
    if n.get("volumeMode", "Filesystem") != o.get("volumeMode", "Filesystem"):
        found.append(_immutable("volumeMode", go_value(n.get("volumeMode"))))
    if o.get("nodeAffinity") is not None and not same(n.get("nodeAffinity"), o.get("nodeAffinity")):
        shown = go_struct("core.VolumeNodeAffinity", n.get("nodeAffinity"))
        detail = f"{IMMUTABLE}, except for updating from beta label to GA"
        found.append(_invalid("nodeAffinity", shown, detail))
    return found


def _storage_class(old: JSON, new: JSON) -> list[Cause]:
    found = []
    if not same(new.get("parameters"), old.get("parameters")):
        found.append(_forbidden("parameters", "updates to parameters are forbidden."))
    if new.get("provisioner") != old.get("provisioner"):
        found.append(_forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy", "Delete") != old.get("reclaimPolicy", "Delete"):
        found.append(_forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    mode = new.get("volumeBindingMode", "Immediate")
    if mode != old.get("volumeBindingMode", "Immediate"):
        found.append(_immutable("volumeBindingMode", go_value(mode)))
    return found


# -- the rest ----------------------------------------------------------------------------


def _ingress_class(old: JSON, new: JSON) -> list[Cause]:
    controller = _spec(new).get("controller")
    if controller == _spec(old).get("controller"):
        return []
    return [_immutable("spec.controller", go_value(controller or ""))]


def _role_ref(old: JSON, new: JSON) -> list[Cause]:
    ref = new.get("roleRef") or {}
    if same(ref, old.get("roleRef")):
        return []
    shown = (
        f"rbac.RoleRef{{APIGroup:{go_quote(str(ref.get('apiGroup', '')))}, "
        f"Kind:{go_quote(str(ref.get('kind', '')))}, Name:{go_quote(str(ref.get('name', '')))}}}"
    )
    return [_invalid("roleRef", shown, "cannot change roleRef")]


def _address_type(old: JSON, new: JSON) -> list[Cause]:
    kind = new.get("addressType")
    if kind == old.get("addressType"):
        return []
    return [_immutable("addressType", go_value(kind or ""))]


def _controller_revision(old: JSON, new: JSON) -> list[Cause]:
    if same(new.get("data"), old.get("data")):
        return []
    raw = json.dumps(new.get("data"), separators=(",", ":")).encode()
    data = ", ".join(f"0x{byte:x}" for byte in raw)
    shown = f"runtime.RawExtension{{Raw:[]uint8{{{data}}}, Object:runtime.Object(nil)}}"
    return [_immutable("data", shown)]


def _crd(old: JSON, new: JSON) -> list[Cause]:
    o, n = _spec(old), _spec(new)
    conditions = (old.get("status") or {}).get("conditions") or []
    established = any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in conditions
        if isinstance(c, dict)
    )
    fields: list[tuple[str, Any, Any]] = []
    if established:
        fields += [
            ("spec.scope", n.get("scope"), o.get("scope")),
            (
                "spec.names.kind",
                (n.get("names") or {}).get("kind"),
                (o.get("names") or {}).get("kind"),
            ),
        ]
    fields += [
        ("spec.group", n.get("group"), o.get("group")),
        (
            "spec.names.plural",
            (n.get("names") or {}).get("plural"),
            (o.get("names") or {}).get("plural"),
        ),
    ]
    return [
        _immutable(field, go_value(after or ""))
        for field, after, before in fields
        if after != before
    ]


def _namespace(old: JSON, new: JSON) -> list[Cause]:
    """A Namespace's ``spec.finalizers`` change only through ``/finalize``: an update keeps
    the old ones (the strategy's ``PrepareForUpdate``), without an error."""
    finalizers = _spec(old).get("finalizers")
    spec = new.setdefault("spec", {})
    if finalizers is None:
        spec.pop("finalizers", None)
    else:
        spec["finalizers"] = clone(finalizers)
    return []


_RULES: dict[tuple[str, str], Rule] = {
    ("", "Namespace"): _namespace,
    ("apps", "Deployment"): _selector,
    ("apps", "ReplicaSet"): _selector,
    ("apps", "DaemonSet"): _selector,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "ControllerRevision"): _controller_revision,
    ("batch", "Job"): _job,
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "ConfigMap"): _configmap,
    ("", "Secret"): _secret,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "PersistentVolume"): _pv,
    ("storage.k8s.io", "StorageClass"): _storage_class,
    ("networking.k8s.io", "IngressClass"): _ingress_class,
    ("rbac.authorization.k8s.io", "RoleBinding"): _role_ref,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _role_ref,
    ("discovery.k8s.io", "EndpointSlice"): _address_type,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}
