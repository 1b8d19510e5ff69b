"""The object store: every stored object, the global resourceVersion, and the change history.

One re-entrant lock guards everything; :attr:`Store.changed` is a condition on that lock that
is notified on each write, which is what watches and controllers wait on. Stored object dicts
are never modified after they are committed (a write stores a new dict), so readers may
serialize them without copying, and watch history can share them.
"""

from __future__ import annotations

import base64
import collections
import copy
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import attrs

from qengine.testing.kube.apply import Ownership
from qengine.testing.kube.clock import SimClock
from qengine.testing.kube.resources import ResourceType, TypeRegistry
from qengine.testing.kube.selectors import Predicate
from qengine.testing.kube.status import bad_request, gone, not_found

JSON = dict[str, Any]
TypeKey = tuple[str, str]
ObjKey = tuple[str, str]

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@attrs.define(kw_only=True)
class Record:
    """A stored object and its field ownership."""

    obj: JSON
    ownership: Ownership


@attrs.frozen(kw_only=True)
class Change:
    """One entry of the change history, as a watch event."""

    rv: int
    type_key: TypeKey
    type: str  # ADDED, MODIFIED, DELETED
    obj: JSON
    old: JSON | None = None  # the previous version, for MODIFIED


class Store:
    """All objects, keyed by type and (namespace, name). See the module docstring."""

    def __init__(self, types: TypeRegistry, clock: SimClock, *, history: int = 20000) -> None:
        self.types = types
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._data: dict[TypeKey, dict[ObjKey, Record]] = collections.defaultdict(dict)
        self._rv = 1000
        self._history: collections.deque[Change] = collections.deque(maxlen=history)
        self._next_ip = 10
        self._next_node_port = 29999
        self._owned: dict[str, set[tuple[TypeKey, str, str]]] = collections.defaultdict(set)
        self.closed = False
        # (involved uid, reason, message) -> (namespace, name) of the Event that aggregates it.
        self.event_index: dict[tuple[str, str, str], tuple[str, str]] = {}

    # -- versions and history ------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        """The current (latest) global resourceVersion."""
        return self._rv

    def oldest_available(self) -> int:
        """The oldest resourceVersion a watch can still start from."""
        if len(self._history) < (self._history.maxlen or 0):
            return 0
        return self._history[0].rv - 1

    def changes_since(self, rv: int, type_key: TypeKey) -> list[Change]:
        """History entries newer than ``rv`` for one type; 410 Gone when ``rv`` is too old."""
        if rv < self.oldest_available():
            raise gone(f"too old resource version: {rv} ({self.oldest_available()})")
        found = []
        for change in reversed(self._history):
            if change.rv <= rv:
                break
            if change.type_key == type_key:
                found.append(change)
        found.reverse()
        return found

    def all_changes_since(self, rv: int) -> list[Change]:
        """Every history entry newer than ``rv``; 410 Gone when ``rv`` is too old."""
        if rv < self.oldest_available():
            raise gone(f"too old resource version: {rv} ({self.oldest_available()})")
        found = []
        for change in reversed(self._history):
            if change.rv <= rv:
                break
            found.append(change)
        found.reverse()
        return found

    def allocate_node_port(self) -> int:
        """The next free NodePort (30000-32767)."""
        self._next_node_port += 1
        return self._next_node_port

    def allocate_ip(self) -> str:
        """The next free Service cluster IP."""
        self._next_ip += 1
        return f"10.96.{self._next_ip // 250}.{self._next_ip % 250 + 1}"

    # -- reads ----------------------------------------------------------------------------

    def record(self, type_key: TypeKey, namespace: str, name: str) -> Record | None:
        """The stored record, or None."""
        return self._data[type_key].get((namespace, name))

    def get(self, rtype: ResourceType, namespace: str, name: str) -> JSON:
        """The stored object (do not modify it), or 404."""
        rec = self.record(rtype.key, namespace, name)
        if rec is None:
            raise not_found(rtype.plural, rtype.group, name)
        return rec.obj

    def find(self, type_key: TypeKey, namespace: str, name: str) -> JSON | None:
        """The stored object or None."""
        rec = self.record(type_key, namespace, name)
        return rec.obj if rec else None

    def iter(self, type_key: TypeKey, namespace: str | None = None) -> Iterator[JSON]:
        """Stored objects of a type, optionally in one namespace (unordered)."""
        for (ns, _), rec in list(self._data[type_key].items()):
            if namespace is None or ns == namespace:
                yield rec.obj

    def count(self) -> int:
        """How many objects are stored in total."""
        return sum(len(v) for v in self._data.values())

    def type_keys(self) -> list[TypeKey]:
        """Every type key that has (or had) objects."""
        return list(self._data)

    def select(
        self,
        rtype: ResourceType,
        namespace: str | None,
        predicate: Predicate,
        *,
        limit: int = 0,
        token: str = "",
    ) -> tuple[list[JSON], str, str, int]:
        """Objects in (namespace, name) order: (items, resourceVersion, continue, remaining)."""
        rv, start = self._resume(token)
        keys = sorted(k for k in self._data[rtype.key] if namespace is None or k[0] == namespace)
        matching = [
            self._data[rtype.key][k].obj
            for k in keys
            if k > start and predicate(self._data[rtype.key][k].obj)
        ]
        if limit and len(matching) > limit:
            last = matching[limit - 1]["metadata"]
            cont = _token(rv, (last.get("namespace", ""), last["name"]))
            return matching[:limit], str(rv), cont, len(matching) - limit
        return matching, str(rv), "", 0

    def _resume(self, token: str) -> tuple[int, ObjKey]:
        if not token:
            return self._rv, ("", "")
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            rv, start = int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise bad_request("continue key is not valid") from exc
        if rv < self.oldest_available():
            raise gone(
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter."
            )
        return rv, start

    # -- writes (callers hold the lock and have validated) ---------------------------------

    def commit(self, rtype: ResourceType, obj: JSON, ownership: Ownership, event: str) -> JSON:
        """Store ``obj`` with a new resourceVersion and record the change; returns it."""
        self._rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self._rv)
        rendered = ownership.render()
        if rendered:
            meta["managedFields"] = rendered
        else:
            meta.pop("managedFields", None)
        key = (meta.get("namespace", ""), meta["name"])
        previous = self._data[rtype.key].get(key)
        if previous is not None:
            self._index_owners(rtype.key, previous.obj, add=False)
        self._index_owners(rtype.key, obj, add=True)
        self._data[rtype.key][key] = Record(obj=obj, ownership=ownership)
        old = previous.obj if previous is not None else None
        self._history.append(Change(rv=self._rv, type_key=rtype.key, type=event, obj=obj, old=old))
        self.changed.notify_all()
        return obj

    def remove(self, rtype: ResourceType, namespace: str, name: str) -> JSON | None:
        """Remove an object now and record DELETED; returns the final object, or None."""
        rec = self._data[rtype.key].pop((namespace, name), None)
        if rec is None:
            return None
        self._index_owners(rtype.key, rec.obj, add=False)
        self._rv += 1
        final = copy.copy(rec.obj)
        final["metadata"] = dict(final["metadata"], resourceVersion=str(self._rv))
        self._history.append(Change(rv=self._rv, type_key=rtype.key, type="DELETED", obj=final))
        self.changed.notify_all()
        return final

    def _index_owners(self, type_key: TypeKey, obj: JSON, *, add: bool) -> None:
        meta = obj["metadata"]
        entry = (type_key, meta.get("namespace", ""), meta["name"])
        for ref in meta.get("ownerReferences") or ():
            uid = str(ref.get("uid", ""))
            if add:
                self._owned[uid].add(entry)
            else:
                self._owned[uid].discard(entry)
                if not self._owned[uid]:
                    del self._owned[uid]

    def owned_by(self, uid: str) -> list[tuple[TypeKey, JSON]]:
        """Objects whose ownerReferences name ``uid``, with their type keys."""
        found = []
        for type_key, ns, name in sorted(self._owned.get(uid, ())):
            obj = self.find(type_key, ns, name)
            if obj is not None:
                found.append((type_key, obj))
        return found

    def new_uid(self) -> str:
        """A fresh object uid."""
        return str(uuid.uuid4())


def _token(rv: int, start: ObjKey) -> str:
    raw = json.dumps({"rv": rv, "start": list(start)}).encode()
    return base64.urlsafe_b64encode(raw).decode()
