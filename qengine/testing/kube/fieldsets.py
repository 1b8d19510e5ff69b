"""Field paths and sets, the vocabulary of server-side apply's ``managedFields``.

A path is a tuple of path elements in the ``FieldsV1`` spelling: ``f:<field>`` for a map
field, ``k:{"name":"app"}`` for the item of a keyed list, ``v:"x"`` for a member of a set
list, and ``.`` for "the item itself". Lists without a merge key are atomic: the list is one
leaf.
"""

from __future__ import annotations

import json
from typing import Any

from qengine.testing.kube.patch import SET_LISTS, list_key

Path = tuple[str, ...]

# Fields the server owns; never counted as managed by a client.
_SERVER_METADATA = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
}


# Keys that join the merge key in server-side apply's list-map keys, with the value the API
# server defaults them to (the applied configuration is defaulted before it is compared).
_EXTRA_KEYS = {"containerPort": ("protocol", "TCP"), "port": ("protocol", "TCP")}


def _item_key(key: str, item: dict[str, Any]) -> dict[str, Any]:
    fields = {key: item.get(key)}
    extra = _EXTRA_KEYS.get(key)
    if extra is not None:
        fields[extra[0]] = item.get(extra[0], extra[1])
    return fields


def _item_element(key: str, item: dict[str, Any]) -> str:
    return "k:" + json.dumps(_item_key(key, item), separators=(",", ":"), sort_keys=True)


def _defaulted(item: dict[str, Any], name: str) -> Any:
    for key, (extra, default) in _EXTRA_KEYS.items():
        if name == extra and key in item:
            return item.get(name, default)
    return item.get(name)


def _collect(value: Any, prefix: Path, field: str | None, out: set[Path]) -> None:
    if isinstance(value, dict):
        if not value:
            out.add(prefix)
        for name, child in value.items():
            _collect(child, (*prefix, f"f:{name}"), name, out)
        return
    if isinstance(value, list) and field is not None:
        if field in SET_LISTS and all(isinstance(i, str) for i in value):
            out.update((*prefix, "v:" + json.dumps(i)) for i in value)
            return
        key = list_key(field, value)
        if key is not None and all(isinstance(i, dict) for i in value):
            for item in value:
                element = (*prefix, _item_element(key, item))
                out.add((*element, "."))
                _collect({k: v for k, v in item.items()}, element, None, out)
            return
    out.add(prefix)


def field_set(obj: dict[str, Any], *, include_status: bool = False) -> set[Path]:
    """The field paths an object (or an applied configuration) sets."""
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if not include_status:
        body.pop("status", None)
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in _SERVER_METADATA}
    body["metadata"] = meta
    if not meta:
        del body["metadata"]
    out: set[Path] = set()
    for name, child in body.items():
        _collect(child, (f"f:{name}",), name, out)
    return out


def _step(value: Any, element: str) -> Any:
    if element == ".":
        return value
    if element.startswith("f:"):
        return value.get(element[2:]) if isinstance(value, dict) else None
    if element.startswith("k:") and isinstance(value, list):
        wanted = json.loads(element[2:])
        return next(
            (
                i
                for i in value
                if isinstance(i, dict) and all(_defaulted(i, k) == v for k, v in wanted.items())
            ),
            None,
        )
    if element.startswith("v:") and isinstance(value, list):
        member = json.loads(element[2:])
        return member if member in value else None
    return None


def value_at(obj: Any, path: Path) -> Any:
    """The value at ``path`` in ``obj``, or None where it is absent."""
    for element in path:
        obj = _step(obj, element)
        if obj is None:
            return None
    return obj


def remove_path(obj: dict[str, Any], path: Path) -> None:
    """Remove the field, list item or set member at ``path`` from ``obj`` in place."""
    if path and path[-1] == ".":
        path = path[:-1]
    parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
    last = path[-1] if path else ""
    if isinstance(parent, dict) and last.startswith("f:"):
        parent.pop(last[2:], None)
    elif isinstance(parent, list):
        target = _step(parent, last)
        if target is not None and target in parent:
            parent.remove(target)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    """The nested ``fieldsV1`` document for a set of paths."""
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for element in path:
            node = node.setdefault(element, {})
    return root


def describe(path: Path) -> str:
    """A path as the API server spells it in conflict messages, e.g. ``.spec.replicas``."""
    text = ""
    for element in path:
        if element.startswith("f:"):
            text += "." + element[2:]
        elif element.startswith("k:"):
            pairs = json.loads(element[2:])
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in pairs.items()) + "]"
        elif element.startswith("v:"):
            text += "[" + element[2:] + "]"
    return text
