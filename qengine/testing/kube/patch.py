"""JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.

Strategic merge merges lists of objects by their merge key (containers by ``name``, container
ports by ``containerPort``, env by ``name``, volumeMounts by ``mountPath``, ...), honours the
``$patch: delete|replace`` directive, ``$deleteFromPrimitiveList/<field>`` and
``$setElementOrder/<field>``; other lists are replaced, as for types without a patch strategy.
"""

from __future__ import annotations

import json
from typing import Any

from qengine.testing.kube.documents import clone
from qengine.testing.kube.status import ApiError, bad_request

JSON = dict[str, Any]

# field name -> candidate merge keys, tried in order (``ports`` is keyed by containerPort in a
# container and by port in a Service).
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "ports": ("containerPort", "port"),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "topologySpreadConstraints": ("topologyKey",),
    "resourceClaims": ("name",),
}

# Primitive lists merged as sets by strategic merge patch.
SET_LISTS = {"finalizers"}


def list_key(field: str, items: list[Any]) -> str | None:
    """The merge key for list ``field`` given its items, or None if the list is atomic."""
    candidates = MERGE_KEYS.get(field)
    if not candidates:
        return None
    dicts = [i for i in items if isinstance(i, dict)]
    for key in candidates:
        if dicts and all(key in i for i in dicts):
            return key
    return candidates[0] if not dicts else None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _decode_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise bad_request(f"invalid JSON pointer {pointer!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    for part in parts[:-1]:
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            raise ApiError(
                422, "Invalid", f"the server rejected our request: missing path {part!r}"
            )
    return doc


def _get(doc: Any, parts: list[str]) -> Any:
    parent = _parent(doc, parts)
    last = parts[-1]
    try:
        return parent[int(last)] if isinstance(parent, list) else parent[last]
    except (KeyError, IndexError, ValueError) as exc:
        raise ApiError(
            422, "Invalid", f"the server rejected our request: no value at {last!r}"
        ) from exc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _parent(doc, parts)
    value = _get(doc, parts)
    if isinstance(parent, list):
        del parent[int(parts[-1])]
    else:
        del parent[parts[-1]]
    return value


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ApiError(422, "Invalid", "the server rejected our request: cannot add to a scalar")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902 over a deep copy of ``doc``."""
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    doc = clone(doc)
    for op in operations:
        kind, parts = op.get("op"), _decode_pointer(op.get("path", ""))
        if kind == "add":
            doc = _add(doc, parts, clone(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _get(doc, parts)
            _remove(doc, parts)
            doc = _add(doc, parts, clone(op.get("value")))
        elif kind in ("move", "copy"):
            source = _decode_pointer(op.get("from", ""))
            value = _remove(doc, source) if kind == "move" else clone(_get(doc, source))
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise ApiError(
                    422,
                    "Invalid",
                    f"the server rejected our request: test failed at {op.get('path')}",
                )
        else:
            raise bad_request(f"unknown json patch operation {kind!r}")
    return doc


def _merge_keyed(field: str, original: list[Any], patch: list[Any]) -> list[Any]:
    key = list_key(field, original + patch)
    if key is None:
        return [i for i in clone(patch) if not (isinstance(i, dict) and "$patch" in i)]
    result = clone(original)
    for item in patch:
        if not isinstance(item, dict):
            continue
        directive = item.get("$patch")
        index = next((n for n, o in enumerate(result) if o.get(key) == item.get(key)), None)
        if directive == "delete":
            if index is not None:
                del result[index]
        elif directive == "replace":
            clean = {k: v for k, v in item.items() if k != "$patch"}
            if index is None:
                result.append(clean)
            else:
                result[index] = clean
        elif index is None:
            result.append(strategic_merge({}, item))
        else:
            result[index] = strategic_merge(result[index], item)
    return result


def _merge_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    original: list[Any] = current if isinstance(current, list) else []
    if any(isinstance(i, dict) and i.get("$patch") == "replace" and len(i) == 1 for i in patch):
        return [i for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if field in SET_LISTS:
        return original + [i for i in patch if i not in original]
    return _merge_keyed(field, original, patch)


def _order(items: list[Any], field: str, order: list[Any]) -> list[Any]:
    key = list_key(field, items)

    def rank(item: Any) -> int:
        ident = {key: item.get(key)} if key and isinstance(item, dict) else item
        return order.index(ident) if ident in order else len(order)

    return sorted(items, key=rank)


def strategic_merge(original: Any, patch: Any) -> Any:
    """Strategic merge patch of ``patch`` onto ``original`` (neither is modified)."""
    if not isinstance(patch, dict):
        return clone(patch)
    if patch.get("$patch") == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    result = clone(original) if isinstance(original, dict) else {}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [i for i in result.get(field) or [] if i not in value]
        elif key == "$retainKeys":
            result = {k: v for k, v in result.items() if k in value or k in patch}
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        elif isinstance(value, dict):
            result[key] = strategic_merge(result.get(key), value)
        else:
            result[key] = value
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _order(result[field], field, order)
    return result


# What a custom resource accepts: it has no Go type, hence no patch strategy.
CUSTOM_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)


def custom_patch_type(content_type: str) -> None:
    """415 for a patch type a custom resource does not accept (strategic merge), worded as
    the real server's answer."""
    if content_type not in CUSTOM_PATCH_TYPES:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(CUSTOM_PATCH_TYPES),
        )


def apply_patch(content_type: str, current: JSON, raw: bytes) -> JSON:
    """Apply a PATCH body of the given content type to ``current``; returns the new object."""
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise bad_request(f"error decoding patch: {exc}") from exc
    if content_type == "application/json-patch+json":
        result = json_patch(current, body)
    elif content_type == "application/merge-patch+json":
        result = merge_patch(current, body)
    elif content_type == "application/strategic-merge-patch+json":
        result = strategic_merge(current, body)
    else:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format: {content_type}",
        )
    if not isinstance(result, dict):
        raise bad_request("patch did not produce an object")
    return result
