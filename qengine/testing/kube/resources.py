"""The table of resource types the simulator serves, with the facts discovery reports.

A :class:`ResourceType` carries what ``/api/v1`` and ``/apis/<group>/<version>`` list for a
resource (kind, plural, singular, namespaced, short names, verbs, subresources). Custom
resources of a registered CRD are added to a :class:`TypeRegistry` at run time.
"""

from __future__ import annotations

import threading

import attrs

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@attrs.frozen(kw_only=True)
class ResourceType:
    """One served resource: ``group`` is "" for the core group."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    has_status: bool = True
    has_scale: bool = False
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Identity of the type in the store: (group, plural); versions share storage."""
        return (self.group, self.plural)


def _t(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    ns: bool = True,
    short: tuple[str, ...] = (),
    status: bool = True,
    scale: bool = False,
    all_cat: bool = False,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=ns,
        short_names=short,
        has_status=status,
        has_scale=scale,
        categories=("all",) if all_cat else (),
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t("", "v1", "namespaces", "Namespace", ns=False, short=("ns",)),
    _t("", "v1", "nodes", "Node", ns=False, short=("no",)),
    _t("", "v1", "pods", "Pod", short=("po",), all_cat=True),
    _t("", "v1", "services", "Service", short=("svc",), all_cat=True),
    _t("", "v1", "endpoints", "Endpoints", short=("ep",), status=False),
    _t("", "v1", "configmaps", "ConfigMap", short=("cm",), status=False),
    _t("", "v1", "secrets", "Secret", status=False),
    _t("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",), status=False),
    _t("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",)),
    _t("", "v1", "persistentvolumes", "PersistentVolume", ns=False, short=("pv",)),
    _t("", "v1", "events", "Event", short=("ev",), status=False),
    _t("", "v1", "resourcequotas", "ResourceQuota", short=("quota",)),
    _t("", "v1", "limitranges", "LimitRange", short=("limits",), status=False),
    _t("", "v1", "replicationcontrollers", "ReplicationController", short=("rc",), scale=True),
    _t("apps", "v1", "deployments", "Deployment", short=("deploy",), scale=True, all_cat=True),
    _t("apps", "v1", "replicasets", "ReplicaSet", short=("rs",), scale=True, all_cat=True),
    _t("apps", "v1", "statefulsets", "StatefulSet", short=("sts",), scale=True, all_cat=True),
    _t("apps", "v1", "daemonsets", "DaemonSet", short=("ds",), all_cat=True),
    _t("apps", "v1", "controllerrevisions", "ControllerRevision", status=False),
    _t("batch", "v1", "jobs", "Job", all_cat=True),
    _t("batch", "v1", "cronjobs", "CronJob", short=("cj",), all_cat=True),
    _t("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=("hpa",)),
    _t("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=("hpa",)),
    _t("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",)),
    _t("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",)),
    _t("networking.k8s.io", "v1", "ingressclasses", "IngressClass", ns=False, status=False),
    _t("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _t("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", status=False),
    _t("coordination.k8s.io", "v1", "leases", "Lease", status=False),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        ns=False,
        status=False,
    ),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        ns=False,
        status=False,
    ),
    _t("events.k8s.io", "v1", "events", "Event", short=("ev",), status=False),
    _t("rbac.authorization.k8s.io", "v1", "roles", "Role", status=False),
    _t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", status=False),
    _t("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", ns=False, status=False),
    _t(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        ns=False,
        status=False,
    ),
    _t(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        ns=False,
        short=("sc",),
        status=False,
    ),
    ResourceType(
        group="authorization.k8s.io",
        version="v1",
        plural="selfsubjectaccessreviews",
        singular="selfsubjectaccessreview",
        kind="SelfSubjectAccessReview",
        namespaced=False,
        has_status=False,
        verbs=("create",),
    ),
    ResourceType(
        group="authorization.k8s.io",
        version="v1",
        plural="selfsubjectrulesreviews",
        singular="selfsubjectrulesreview",
        kind="SelfSubjectRulesReview",
        namespaced=False,
        has_status=False,
        verbs=("create",),
    ),
    ResourceType(
        group="authorization.k8s.io",
        version="v1",
        plural="subjectaccessreviews",
        singular="subjectaccessreview",
        kind="SubjectAccessReview",
        namespaced=False,
        has_status=False,
        verbs=("create",),
    ),
    ResourceType(
        group="authorization.k8s.io",
        version="v1",
        plural="localsubjectaccessreviews",
        singular="localsubjectaccessreview",
        kind="LocalSubjectAccessReview",
        namespaced=True,
        has_status=False,
        verbs=("create",),
    ),
    ResourceType(
        group="authentication.k8s.io",
        version="v1",
        plural="selfsubjectreviews",
        singular="selfsubjectreview",
        kind="SelfSubjectReview",
        namespaced=False,
        has_status=False,
        verbs=("create",),
    ),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        ns=False,
        short=("crd", "crds"),
    ),
)

# Group versions that are preferred when a group is served at several versions.
PREFERRED_VERSIONS = {"autoscaling": "v2"}


class TypeRegistry:
    """The served types: built-ins plus custom resources of established CRDs.

    Thread-safe; the list of types only grows or shrinks as CRDs are created and deleted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._preferred: dict[tuple[str, str], ResourceType] = {}
        for rtype in BUILTIN_TYPES:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def all(self) -> list[ResourceType]:
        """Every served type, in registration order."""
        with self._lock:
            return list(self._types.values())

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at ``group/version/plural``, or None."""
        with self._lock:
            return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        """The type for an object's ``apiVersion`` and ``kind``, or None."""
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rtype in self._types.values():
                if (rtype.group, rtype.version, rtype.kind) == (group, version, kind):
                    return rtype
        return None

    def preferred(self, group: str, plural: str) -> ResourceType | None:
        """The preferred version's type for a (group, plural) storage key."""
        with self._lock:
            cached = self._preferred.get((group, plural))
            if cached is not None:
                return cached
            matches = [t for t in self._types.values() if t.key == (group, plural)]
        want = PREFERRED_VERSIONS.get(group)
        found = next((t for t in matches if t.version == want), matches[0] if matches else None)
        if found is not None:
            with self._lock:
                self._preferred[(group, plural)] = found
        return found

    def add(self, rtype: ResourceType) -> None:
        """Serve ``rtype`` (a custom resource); replaces an earlier registration."""
        with self._lock:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
            self._preferred.pop(rtype.key, None)

    def remove(self, group: str, plural: str) -> None:
        """Stop serving every version of a custom resource."""
        with self._lock:
            for key in [k for k, t in self._types.items() if t.key == (group, plural)]:
                del self._types[key]
            self._preferred.pop((group, plural), None)


def crd_types(crd: dict[str, object]) -> list[ResourceType]:
    """The resource types a CustomResourceDefinition object declares (served versions)."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return []
    names = spec.get("names") or {}
    result = []
    for ver in spec.get("versions") or []:
        if not ver.get("served", True):
            continue
        subres = ver.get("subresources") or {}
        result.append(
            ResourceType(
                group=str(spec.get("group", "")),
                version=str(ver.get("name")),
                plural=str(names.get("plural", "")),
                singular=str(names.get("singular") or str(names.get("kind", "")).lower()),
                kind=str(names.get("kind", "")),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                has_status="status" in subres,
                has_scale="scale" in subres,
                categories=tuple(names.get("categories") or ()),
            )
        )
    return result
