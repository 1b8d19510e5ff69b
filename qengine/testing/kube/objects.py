"""Writes with API semantics: create, update, patch and server-side apply.

:class:`ObjectApi` is the one way objects change, for HTTP handlers and controllers alike. It
assigns uid, creationTimestamp, generation (moved only by spec changes) and resourceVersion,
defaults and validates, enforces optimistic concurrency, tracks field ownership, honours
``dryRun``, and skips writes that change nothing (no new resourceVersion, no watch event).
Callers hold ``store.lock``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import attrs

from qengine.testing.kube import admission, crds, decoding, defaults, immutable, validation
from qengine.testing.kube.apply import ManagerKey, Ownership
from qengine.testing.kube.documents import clone
from qengine.testing.kube.patch import apply_patch, custom_patch_type
from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.status import ApiError, already_exists, bad_request, conflict, not_found
from qengine.testing.kube.store import Store

JSON = dict[str, Any]
APPLY_PATCH = "application/apply-patch+yaml"

_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
_GENERATION_KINDS = {
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "NetworkPolicy",
    "CustomResourceDefinition",
}
_IMMUTABLE_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)


@attrs.frozen(kw_only=True)
class WriteOptions:
    """How a write is made: by whom, dry-run or not, forced apply, on which subresource."""

    manager: str = ""
    dry_run: bool = False
    force: bool = False
    subresource: str = ""
    track: bool = True  # record field ownership (controllers' status writes skip it)
    # fieldValidation of an API request (Strict, Warn, Ignore); "" (in-process writes) skips
    # decoding. Warn's warnings are collected in ``warnings`` for the response.
    field_validation: str = ""
    warnings: list[str] = attrs.Factory(list)


def _body_part(obj: JSON) -> JSON:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _comparable(obj: JSON) -> JSON:
    meta = {
        k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "managedFields")
    }
    return dict(obj, metadata=meta)


def parse_apply_body(raw: bytes) -> JSON:
    """An apply configuration: JSON, or YAML (pyyaml, imported only for YAML bodies: the
    ``kube-simulator`` extra of qengine; without it, a YAML body is answered 415)."""
    try:
        body = json.loads(raw)
    except ValueError:
        try:
            import yaml  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "this simulator reads YAML apply bodies with pyyaml, which is not installed: "
                "pip install 'qengine[kube-simulator]'",
            ) from None

        try:
            body = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("the apply configuration must be an object")
    return body


class ObjectApi:
    """Create, update, patch and apply against a :class:`Store` (see module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.on_commit: list[Callable[[ResourceType, JSON | None, JSON], None]] = []
        # Seconds a deleted pod stays Terminating; 0 deletes pods at once. Only meaningful
        # with the simulated kubelet running (it is what removes terminated pods).
        self.pod_termination_delay = 0.0
        # The ACME directories the simulated cert-manager registers accounts with (the
        # simulator sets Let's Encrypt's; no request leaves it).
        self.acme_directories: set[str] = set()

    # -- create ---------------------------------------------------------------------------

    def check_namespace(self, rtype: ResourceType, namespace: str, name: str) -> None:
        """404 when the namespace is missing, 403 when it is terminating."""
        if not rtype.namespaced:
            return
        ns = self.store.find(("", "namespaces"), "", namespace)
        if ns is None:
            raise not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{rtype.plural} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                details={
                    "name": name,
                    "kind": rtype.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _check_type(self, rtype: ResourceType, obj: JSON) -> None:
        obj.setdefault("apiVersion", rtype.api_version)
        obj.setdefault("kind", rtype.kind)
        if obj["kind"] != rtype.kind or obj["apiVersion"].split("/")[0] not in (
            rtype.group or rtype.version,
            rtype.api_version,
        ):
            raise bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the expected "
                f"API version ({rtype.api_version})"
            )
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}

    def _prepare_new(self, rtype: ResourceType, namespace: str, obj: JSON) -> JSON:
        obj = clone(obj)
        if rtype.group in _BUILTIN_GROUPS:
            decode_nulls(obj)
        self._check_type(rtype, obj)
        meta = obj["metadata"]
        if rtype.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        for field in _IMMUTABLE_META:
            meta.pop(field, None)
        meta.pop("managedFields", None)
        service = obj["kind"] == "Service"
        next_ip = self.store.allocate_ip() if service else ""
        defaults.apply_defaults(obj, next_ip, self.store.allocate_node_port)
        crds.admit(self.store, rtype, obj, None)
        validation.validate(rtype, obj)
        meta["uid"] = self.store.new_uid()
        meta["creationTimestamp"] = self.store.clock.stamp()
        if obj["kind"] == "Job":
            _job_selector(obj)
        if rtype.kind in _GENERATION_KINDS or rtype.group not in _BUILTIN_GROUPS:
            meta["generation"] = 1
        return obj

    def create(self, rtype: ResourceType, namespace: str, body: JSON, opts: WriteOptions) -> JSON:
        """Create an object; 409 AlreadyExists if the name is taken."""
        decoding.decode(rtype, body, opts)
        crds.decode(self.store, rtype, body, opts)
        obj = self._prepare_new(rtype, namespace, body)
        name = obj["metadata"]["name"]
        self.check_namespace(rtype, namespace, name)
        if self.store.record(rtype.key, obj["metadata"].get("namespace", ""), name):
            raise already_exists(rtype.plural, rtype.group, name)
        ownership = Ownership()
        if opts.track and opts.manager:
            key = ManagerKey(manager=opts.manager, operation="Update")
            ownership.record_update(key, None, obj, obj["apiVersion"])
        return self._commit(rtype, None, obj, ownership, opts)

    # -- update ---------------------------------------------------------------------------

    def update(
        self, rtype: ResourceType, namespace: str, name: str, body: JSON, opts: WriteOptions
    ) -> JSON:
        """Replace an object (PUT); 409 Conflict on a stale resourceVersion."""
        rec = self.store.record(rtype.key, namespace, name)
        if rec is None:
            raise not_found(rtype.plural, rtype.group, name)
        body = clone(body)
        decoding.decode(rtype, body, opts)
        crds.decode(self.store, rtype, body, opts)
        self._check_type(rtype, body)
        given = body["metadata"].get("name")
        if given and given != name:
            raise bad_request(
                f"the name of the object ({given}) does not match the name on the URL ({name})"
            )
        immutable.check_namespace(rtype, namespace, body)
        sent_rv = body["metadata"].get("resourceVersion")
        if sent_rv and sent_rv != rec.obj["metadata"]["resourceVersion"]:
            raise conflict(
                rtype.plural,
                rtype.group,
                name,
                _MODIFIED,
            )
        ownership = rec.ownership.copy()
        new = self._merge_update(rtype, rec.obj, body, opts.subresource)
        if opts.track and opts.manager:
            key = ManagerKey(manager=opts.manager, operation="Update", subresource=opts.subresource)
            ownership.record_update(key, rec.obj, new, new["apiVersion"])
        return self._commit(rtype, rec.obj, new, ownership, opts)

    def _merge_update(self, rtype: ResourceType, old: JSON, body: JSON, sub: str) -> JSON:
        if rtype.group in _BUILTIN_GROUPS:
            decode_nulls(body)  # a fresh copy: the body of an update, a patched or applied object
        if sub == "status":
            new = dict(clone(old), status=body.get("status", {}))
        else:
            new = body
            if rtype.has_status and "status" in old:
                new["status"] = clone(old["status"])
            elif rtype.has_status:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        meta["name"] = old["metadata"]["name"]
        if rtype.namespaced:
            meta["namespace"] = old["metadata"]["namespace"]
        for field in _IMMUTABLE_META:
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
            else:
                meta.pop(field, None)
        crds.admit(self.store, rtype, new, old, sub)
        if sub == "":
            _keep_node_ports(old, new)
            cluster_ip = old.get("spec", {}).get("clusterIP", "")
            defaults.apply_defaults(new, cluster_ip, self.store.allocate_node_port)
            validation.validate(rtype, new)
            immutable.check(rtype, old, new)
            if "generation" in meta and _body_part(new) != _body_part(old):
                meta["generation"] = int(meta["generation"]) + 1
        return new

    # -- patch and apply ------------------------------------------------------------------

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        raw: bytes,
        opts: WriteOptions,
    ) -> JSON:
        """PATCH of any supported content type, server-side apply included."""
        if rtype.group not in _BUILTIN_GROUPS:
            custom_patch_type(content_type)
        if content_type == APPLY_PATCH:
            return self.apply(rtype, namespace, name, parse_apply_body(raw), opts)
        current = self.store.get(rtype, namespace, name)
        patched = apply_patch(content_type, clone(current), raw)
        decoding.decode(rtype, patched, opts, content_type, raw)
        crds.decode(self.store, rtype, patched, opts, content_type)
        patched.setdefault("metadata", {})
        if not patched["metadata"].get("resourceVersion"):
            patched["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        decoded = attrs.evolve(opts, field_validation="")  # the patched object was decoded
        return self.update(rtype, namespace, name, patched, decoded)

    def apply(
        self, rtype: ResourceType, namespace: str, name: str, config: JSON, opts: WriteOptions
    ) -> JSON:
        """Server-side apply: create if absent, else merge with field ownership."""
        if not opts.manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch",
            )
        self._check_type(rtype, config)
        meta = config["metadata"]
        if meta.get("name", name) != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the "
                f"URL ({name})"
            )
        meta["name"] = name
        immutable.check_namespace(rtype, namespace, config)
        decoding.decode(rtype, config, opts, APPLY_PATCH)
        crds.decode(self.store, rtype, config, opts, APPLY_PATCH)
        rec = self.store.record(rtype.key, namespace if rtype.namespaced else "", name)
        if rec is None:
            return self._apply_create(rtype, namespace, config, opts)
        ownership = rec.ownership.copy()
        applied = ownership.apply(
            clone(rec.obj),
            config,
            opts.manager,
            force=opts.force,
            subresource=opts.subresource,
        )
        new = self._merge_update(rtype, rec.obj, applied, opts.subresource)
        sent_rv = meta.get("resourceVersion")
        if sent_rv and sent_rv != rec.obj["metadata"]["resourceVersion"]:
            raise conflict(
                rtype.plural,
                rtype.group,
                name,
                _MODIFIED,
            )
        new["metadata"]["resourceVersion"] = rec.obj["metadata"]["resourceVersion"]
        return self._commit(rtype, rec.obj, new, ownership, opts)

    def _apply_create(
        self, rtype: ResourceType, namespace: str, config: JSON, opts: WriteOptions
    ) -> JSON:
        ownership = Ownership()
        merged = ownership.apply(None, config, opts.manager, force=opts.force)
        obj = self._prepare_new(rtype, namespace, merged)
        self.check_namespace(rtype, namespace, obj["metadata"]["name"])
        return self._commit(rtype, None, obj, ownership, opts)

    # -- commit ---------------------------------------------------------------------------

    def _commit(
        self,
        rtype: ResourceType,
        old: JSON | None,
        new: JSON,
        ownership: Ownership,
        opts: WriteOptions,
    ) -> JSON:
        unchanged = old is not None and _comparable(new) == _comparable(old)
        if unchanged and _same_fields(ownership, self.store.record(rtype.key, *_key(new))):
            return old  # type: ignore[return-value]
        if not new["metadata"].get("deletionTimestamp"):
            operation = "CREATE" if old is None else "UPDATE"
            admission.admit(self.store, rtype, operation, opts.subresource)
        if opts.dry_run:
            new["metadata"].setdefault("resourceVersion", "")
            return new
        meta = new["metadata"]
        if old is not None and meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.store.commit(rtype, new, ownership, "MODIFIED")
            final = self.store.remove(rtype, *_key(new))
            self._notify(rtype, old, new)
            return final or new
        stored = self.store.commit(rtype, new, ownership, "ADDED" if old is None else "MODIFIED")
        self._notify(rtype, old, stored)
        return stored

    def _notify(self, rtype: ResourceType, old: JSON | None, new: JSON) -> None:
        for hook in self.on_commit:
            hook(rtype, old, new)

    def commit_raw(self, rtype: ResourceType, obj: JSON) -> JSON:
        """Store a controller's modified copy of an existing object (status or spec)."""
        rec = self.store.record(rtype.key, *_key(obj))
        ownership = rec.ownership if rec else Ownership()
        if rec is not None and _comparable(obj) == _comparable(rec.obj):
            return rec.obj
        return self.store.commit(rtype, obj, ownership, "ADDED" if rec is None else "MODIFIED")


_BUILTIN_GROUPS = {
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "discovery.k8s.io",
    "coordination.k8s.io",
    "admissionregistration.k8s.io",
    "events.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
}


# Maps of strings, and of quantities, whose null values Go decodes to the zero value.
_STRING_MAPS = frozenset({"labels", "annotations", "nodeSelector", "matchLabels"})
_QUANTITY_MAPS = frozenset({"requests", "limits", "capacity", "hard"})


def decode_nulls(node: JSON) -> None:
    """Null means absent, in place, as decoding JSON into the API's Go types has it.

    A null field decodes to its zero value, which is not stored (so ``spec.template.metadata:
    null``, as Helm charts render it, is an absent template metadata); a null value in a map
    of strings (labels, annotations, selectors) is ``""``, in a map of quantities ``"0"``; a
    null item of a list is the zero value of its siblings' type.
    """
    for key in [k for k, v in node.items() if v is None]:
        del node[key]
    for key, value in node.items():
        if isinstance(value, dict):
            if key in _STRING_MAPS or key in _QUANTITY_MAPS:
                zero = "" if key in _STRING_MAPS else "0"
                for name in [k for k, v in value.items() if v is None]:
                    value[name] = zero
            else:
                decode_nulls(value)
        elif isinstance(value, list) and value:
            _decode_list_nulls(value)


def _decode_list_nulls(items: list[Any]) -> None:
    kinds = {type(item) for item in items}
    if type(None) in kinds:
        zero: Any = {} if dict in kinds else "" if str in kinds else None
        if zero is not None:
            items[:] = [(type(zero)() if item is None else item) for item in items]
    if dict in kinds:
        for item in items:
            if isinstance(item, dict):
                decode_nulls(item)


def _key(obj: JSON) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def _same_fields(ownership: Ownership, rec: Any) -> bool:
    if rec is None:
        return False
    mine = {k: e.fields for k, e in ownership.entries.items()}
    theirs = {k: e.fields for k, e in rec.ownership.entries.items()}
    return mine == theirs


def _keep_node_ports(old: JSON, new: JSON) -> None:
    """An update that leaves a Service port's nodePort out keeps the allocated one."""
    if new.get("kind") != "Service":
        return
    allocated = {p.get("port"): p.get("nodePort") for p in old.get("spec", {}).get("ports") or []}
    for port in new.get("spec", {}).get("ports") or []:
        if "nodePort" not in port and allocated.get(port.get("port")):
            port["nodePort"] = allocated[port.get("port")]


def _job_selector(job: JSON) -> None:
    """The selector and template labels the API server gives a Job on create."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
    labels.update(
        {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
    )
