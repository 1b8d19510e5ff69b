"""CustomResourceDefinitions: serving the custom resources of a CRD, and their schemas.

Once a CRD is stored its custom resources are served (the CRD is marked Established at once),
and every write of one follows the CRD version's structural schema as the real server does
(``k8s.io/apiextensions-apiserver``, Kubernetes 1.31; algorithms in
:mod:`qengine.testing.kube.structural`):

* :func:`decode` (the request's object, as the server decodes it): fields the schema does not
  declare are dropped, and reported as ``fieldValidation`` asks: ``Strict`` refuses them
  (``400`` ``Widget in version "v1" cannot be handled as a Widget: strict decoding error:
  unknown field "spec.foo"``; for a patch, ``422`` on the field ``patch``), ``Warn`` (the
  default) answers a ``Warning`` per field, ``Ignore`` says nothing. A server-side apply
  configuration that sets an undeclared field is refused whatever the directive, as the
  server's typed conversion refuses it (``500``, ``failed to create typed patch object
  (default/w1; example.com/v1, Kind=Widget): .spec.foo: field not declared in schema``).
* :func:`admit` (every create and update, in-process ones too): pruning, removal of
  non-nullable nulls, defaulting, then validation: ``422 Invalid`` with one cause per failure
  (``spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to
  10``). An update is not refused for values it leaves unchanged (validation ratcheting, on
  in 1.31); a ``/status`` write is validated against the ``status`` schema only.
* Defaults are also applied "on read": when a CRD changes, its stored objects are pruned and
  defaulted again under the new schema without a new resourceVersion, so reads return what
  the real server (which defaults objects as it reads them from storage) would.

Compiled schemas are cached per simulator (store), CRD uid, generation and version; the
entries of a CRD are dropped when it changes or goes.
"""

from __future__ import annotations

import json
import weakref
from typing import TYPE_CHECKING, Any

import attrs

from qengine.testing.kube import structural
from qengine.testing.kube.documents import clone
from qengine.testing.kube.gofmt import go_quote
from qengine.testing.kube.resources import ResourceType, crd_types
from qengine.testing.kube.status import ApiError, bad_request
from qengine.testing.kube.store import Store
from qengine.testing.kube.structural import Failure, Schema
from qengine.testing.kube.validation import invalid

if TYPE_CHECKING:
    from qengine.testing.kube.objects import ObjectApi, WriteOptions

JSON = dict[str, Any]
CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
APPLY = "application/apply-patch+yaml"


@attrs.frozen(kw_only=True)
class VersionSchema:
    """The compiled schema of one served version of a CRD."""

    schema: Schema | None  # the whole object's
    status: Schema | None  # its ``status`` property's, for ``/status`` writes
    preserve: bool  # spec.preserveUnknownFields: nothing is pruned


# Per store (so it goes with its simulator): (CRD uid, generation, version) -> schema.
_CACHES: weakref.WeakKeyDictionary[Store, dict[tuple[str, int, str], VersionSchema]] = (
    weakref.WeakKeyDictionary()
)


def _cache(store: Store) -> dict[tuple[str, int, str], VersionSchema]:
    found = _CACHES.get(store)
    if found is None:
        found = _CACHES[store] = {}
    return found


def _compile(crd: JSON, version: str) -> VersionSchema:
    spec = crd.get("spec") or {}
    raw = None
    for ver in spec.get("versions") or []:
        if isinstance(ver, dict) and ver.get("name") == version:
            raw = (ver.get("schema") or {}).get("openAPIV3Schema")
    schema = structural.compile_schema(raw)
    status = schema.properties.get("status") if schema is not None else None
    preserve = bool(spec.get("preserveUnknownFields")) or schema is None
    return VersionSchema(schema=schema, status=status, preserve=preserve)


def version_schema(store: Store, rtype: ResourceType) -> VersionSchema | None:
    """The schema of ``rtype``'s version when it is a custom resource (None otherwise)."""
    crd = store.find(CRD_KEY, "", f"{rtype.plural}.{rtype.group}")
    if crd is None:
        return None
    meta = crd["metadata"]
    key = (str(meta.get("uid", "")), int(meta.get("generation") or 0), rtype.version)
    cache = _cache(store)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _compile(crd, rtype.version)
    return found


# -- decoding ----------------------------------------------------------------------------


def decode(
    store: Store, rtype: ResourceType, obj: JSON, opts: WriteOptions, patch_type: str = ""
) -> None:
    """Decode a custom resource's request object (see the module docstring) in place: a body
    (create, update), a patched object (``patch_type`` a patch type) or an apply
    configuration (``patch_type`` the apply type). Writes made in-process (no directive in
    ``opts``) are not decoded."""
    if not opts.field_validation:
        return
    found = version_schema(store, rtype)
    if found is None or found.preserve:
        return
    if patch_type == APPLY:
        _check_apply(rtype, found.schema, obj)
        return
    unknown = structural.prune(obj, found.schema)
    if not unknown or opts.field_validation == "Ignore":
        return
    errors = [f"unknown field {go_quote(path)}" for path in unknown]
    if opts.field_validation == "Warn":
        opts.warnings.extend(errors)
        return
    strict = "strict decoding error: " + ", ".join(errors)
    if not patch_type:
        kind = rtype.kind
        raise bad_request(
            f"{kind} in version {go_quote(rtype.version)} cannot be handled as a {kind}: {strict}"
        )
    message = f"Invalid value: {go_quote(_go_json(obj))}: {strict}"
    raise ApiError(
        422,
        "Invalid",
        f' "" is invalid: patch: {message}',
        details={"causes": [{"reason": "FieldValueInvalid", "message": message, "field": "patch"}]},
    )


def _go_json(obj: JSON) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _TypedPatchError(ApiError):
    """A failed typed conversion: the real server answers it 500 with no reason."""

    def body(self) -> JSON:
        """The ``Status``, without ``reason``."""
        body = super().body()
        body.pop("reason", None)
        return body


def _check_apply(rtype: ResourceType, schema: Schema | None, config: JSON) -> None:
    paths = structural.undeclared(config, schema)
    if not paths:
        return
    errors = [f"{path}: field not declared in schema" for path in paths]
    text = errors[0] if len(errors) == 1 else "\n  ".join(["errors:", *errors])
    meta = config.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    where = (
        f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; "
        f"{rtype.group}/{rtype.version}, Kind={rtype.kind}"
    )
    raise _TypedPatchError(500, "", f"failed to create typed patch object ({where}): {text}")


# -- admission ---------------------------------------------------------------------------


def admit(
    store: Store, rtype: ResourceType, obj: JSON, old: JSON | None, subresource: str = ""
) -> None:
    """Prune, default and validate a custom resource about to be stored, in place; 422
    Invalid when its schema refuses it (``old``: the stored version, for an update)."""
    found = version_schema(store, rtype)
    if found is None:
        return
    coerce(obj, found)
    if subresource == "status":
        status = obj.get("status")
        failures = structural.validate(status, found.status) if "status" in obj else []
        previous = (old or {}).get("status")
        causes = structural.causes(_ratchet(failures, status, previous, old is not None), "status")
    else:
        failures = structural.validate(obj, found.schema)
        causes = structural.causes(_ratchet(failures, obj, old, old is not None))
    if causes:
        name = str(obj.get("metadata", {}).get("name") or "")
        raise invalid(rtype.kind, rtype.group, name, causes)


def coerce(obj: JSON, found: VersionSchema) -> None:
    """What decoding does to a stored or written object: prune, drop nulls, default."""
    if not found.preserve:
        structural.prune(obj, found.schema)
        structural.prune_nulls(obj, found.schema)
    structural.apply_defaults(obj, found.schema)


def _ratchet(failures: list[Failure], new: Any, old: Any, update: bool) -> list[Failure]:
    """Failures of an update that concern values it changes (an unchanged value is not
    refused again, as the server's validation ratcheting has it)."""
    if not update or not failures:
        return failures
    return [f for f in failures if not _unchanged(f.name, new, old)]


def _tokens(path: str) -> list[str | int]:
    tokens: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("[") and part.endswith("]"):
            inner = part[1:-1]
            tokens.append(int(inner) if inner.isdigit() else inner)
        else:
            tokens.append(part)
    return tokens


_MISSING = object()


def _at(value: Any, token: str | int) -> Any:
    if isinstance(token, int) and isinstance(value, list):
        return value[token] if token < len(value) else _MISSING
    if isinstance(value, dict):
        return value.get(str(token), _MISSING)
    return _MISSING


def _unchanged(path: str, new: Any, old: Any) -> bool:
    """Whether the deepest value on ``path`` that ``new`` has is the same in ``old``."""
    here_new, here_old = new, old
    for token in _tokens(path):
        below = _at(here_new, token)
        if below is _MISSING:
            break
        here_new, here_old = below, _at(here_old, token)
    return here_old is not _MISSING and here_new == here_old


# -- the CRDs themselves -----------------------------------------------------------------


def _status(crd: JSON, now: str) -> JSON:
    spec = crd.get("spec", {})
    conditions = [
        {"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": now}
        for t, r, m in (
            ("NamesAccepted", "NoConflicts", "no conflicts found for the names"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    stored = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    return {
        "acceptedNames": spec.get("names", {}),
        "conditions": conditions,
        "storedVersions": stored,
    }


def on_commit(api: ObjectApi, rtype: ResourceType, old: JSON | None, new: JSON) -> None:
    """Commit hook: register, update or withdraw a CRD's custom resource types."""
    if rtype.kind != "CustomResourceDefinition":
        return
    name = new["metadata"]["name"]
    current = api.store.find(rtype.key, "", name)
    spec = new.get("spec", {})
    group, plural = str(spec.get("group", "")), str(spec.get("names", {}).get("plural", ""))
    _forget(_cache(api.store), str(new["metadata"].get("uid", "")), current)
    if current is None:
        _withdraw(api, group, plural)
        return
    for crtype in crd_types(current):
        api.store.types.add(crtype)
    if old is not None and old.get("spec") != current.get("spec"):
        _recoerce(api.store, group, plural)
    if not current.get("status", {}).get("conditions"):
        established = clone(current)
        established["status"] = _status(current, api.store.clock.stamp())
        api.commit_raw(rtype, established)


def _forget(
    cache: dict[tuple[str, int, str], VersionSchema], uid: str, current: JSON | None
) -> None:
    generation = int(current["metadata"].get("generation") or 0) if current else -1
    for key in [k for k in cache if k[0] == uid and k[1] != generation]:
        del cache[key]


def _recoerce(store: Store, group: str, plural: str) -> None:
    """Prune and default the stored objects of a changed CRD as reads would now show them;
    their resourceVersion does not move (nothing is written, as on a real server)."""
    for obj in list(store.iter((group, plural))):
        version = str(obj.get("apiVersion", "")).rpartition("/")[2]
        crtype = store.types.lookup(group, version, plural)
        found = version_schema(store, crtype) if crtype is not None else None
        if found is None:
            continue
        updated = clone(obj)
        coerce(updated, found)
        meta = obj["metadata"]
        record = store.record((group, plural), meta.get("namespace", ""), meta["name"])
        if updated != obj and record is not None:
            record.obj = updated


def _withdraw(api: ObjectApi, group: str, plural: str) -> None:
    from qengine.testing.kube import deletion  # deletion depends on the write path

    crtype = api.store.types.preferred(group, plural)
    if crtype is not None:
        for obj in list(api.store.iter(crtype.key)):
            deletion.remove_now(api, crtype, obj)
    api.store.types.remove(group, plural)
