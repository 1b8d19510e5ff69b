"""The object store: every stored object, the global resourceVersion, and the change history.

One re-entrant lock guards everything; :attr:`Store.changed` is a condition on that lock that
is notified on each write, which is what watches and controllers wait on. Stored object dicts
are never modified after they are committed (a write stores a new dict), so readers may
serialize them without copying, and watch history can share them.

The history is compacted as the API server compacts etcd: every
:attr:`Store.compaction_interval` seconds of the simulated clock (the server's
``--etcd-compaction-interval``, 5 minutes by default), up to the resourceVersion seen at the
previous compaction, so a version stays readable for at least one interval and at most two;
:meth:`Store.compact` compacts at once. The history is also bounded in size (``history``
entries, the oldest dropped first). A watch, a list at an exact version or a ``continue``
token older than what remains is answered ``410 Gone`` (reason ``Expired``). Compaction keeps
the changes an open watch has not sent yet (its cursor), as the watch cache keeps feeding
open watches.

The store also keeps the garbage collector's work queue: when an object that others name in
their ``ownerReferences`` goes, or an object names an owner that does not exist, the owner's
uid is queued, due :attr:`Store.gc_delay` seconds later (see
:func:`qengine.testing.kube.deletion.collect_garbage`).
"""

from __future__ import annotations

import base64
import collections
import copy
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import attrs

from qengine.testing.kube.apply import Ownership
from qengine.testing.kube.clock import SimClock
from qengine.testing.kube.resources import ResourceType, TypeRegistry
from qengine.testing.kube.selectors import Predicate
from qengine.testing.kube.status import ApiError, bad_request, gone, not_found

JSON = dict[str, Any]
TypeKey = tuple[str, str]
ObjKey = tuple[str, str]

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
COMPACTION_INTERVAL = 300.0  # kube-apiserver --etcd-compaction-interval
GC_DELAY = 0.2  # seconds between an owner going and the garbage collector acting on it
LATEST = -1  # a continue token's version that means "continue at the latest version"

# The API server's messages (k8s.io/apiserver storage/etcd3/errors.go).
LIST_EXPIRED = "The resourceVersion for the provided list is too old."
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)


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
    old: JSON | None = None  # the previous version, for MODIFIED and DELETED


@attrs.frozen(kw_only=True)
class Collection:
    """An owner whose dependents the garbage collector must look at, from ``due`` on."""

    due: float  # time.monotonic()
    type_key: TypeKey
    namespace: str
    name: str


class ExpiredContinue(ApiError):
    """410 for a continue token whose version was compacted; like the API server, the Status
    carries a token that continues the same list at the latest version."""

    def __init__(self, token: str) -> None:
        super().__init__(410, "Expired", CONTINUE_EXPIRED)
        self.token = token

    def body(self) -> JSON:
        """The Status, with ``metadata.continue``."""
        return dict(super().body(), metadata={"continue": self.token})


class Store:
    """All objects, keyed by type and (namespace, name). See the module docstring."""

    def __init__(
        self,
        types: TypeRegistry,
        clock: SimClock,
        *,
        history: int = 20000,
        compaction_interval: float = COMPACTION_INTERVAL,
    ) -> None:
        self.types = types
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._data: dict[TypeKey, dict[ObjKey, Record]] = collections.defaultdict(dict)
        self._rv = 1000
        self._history: collections.deque[Change] = collections.deque(maxlen=history)
        self._compacted = 0  # versions up to this one are compacted away
        self._interval = compaction_interval
        self._mark = self._rv  # the version seen at the previous compaction
        self._next_compaction = clock.time() + compaction_interval
        self._cursors: dict[int, int] = {}  # open watches: id -> version sent up to
        self._cursor_ids = itertools.count(1)
        self._next_ip = 10
        self._next_node_port = 29999
        self._owned: dict[str, set[tuple[TypeKey, str, str]]] = collections.defaultdict(set)
        self.gc_delay = GC_DELAY
        self._collect: dict[str, Collection] = {}
        self.closed = False
        # (involved uid, reason, message) -> (namespace, name) of the Event that aggregates it.
        self.event_index: dict[tuple[str, str, str], tuple[str, str]] = {}

    # -- versions, history and compaction ---------------------------------------------------

    @property
    def resource_version(self) -> int:
        """The current (latest) global resourceVersion."""
        return self._rv

    @property
    def compaction_interval(self) -> float:
        """Seconds of simulated time between compactions (0 or less: never by time)."""
        return self._interval

    @compaction_interval.setter
    def compaction_interval(self, seconds: float) -> None:
        with self.lock:
            self._interval = seconds
            self._next_compaction = self.clock.time() + seconds

    def compact(self, rv: int | None = None) -> None:
        """Compact the history up to ``rv`` (default: the current resourceVersion) now, as
        etcd compaction does: reads from an older version then get ``410 Gone``. Changes an
        open watch has not sent yet are kept (the API server's watch cache feeds open
        watches whatever etcd compacts)."""
        with self.lock:
            target = min(self._rv if rv is None else rv, self._rv, *self._cursors.values())
            while self._history and self._history[0].rv <= target:
                self._history.popleft()
            self._compacted = max(self._compacted, target)

    def _tick(self) -> None:
        """Compact when the simulated clock passed the next compaction time (see module)."""
        if self._interval <= 0:
            return
        now = self.clock.time()
        if now < self._next_compaction:
            return
        ticks = int((now - self._next_compaction) // self._interval) + 1
        # Two ticks without a write in between: the version seen at the later one is current.
        self.compact(self._rv if ticks > 1 else self._mark)
        self._mark = self._rv
        self._next_compaction += ticks * self._interval

    def open_cursor(self, rv: int) -> int:
        """Register an open watch that has sent every change up to ``rv``; its id."""
        cursor = next(self._cursor_ids)
        self._cursors[cursor] = rv
        return cursor

    def move_cursor(self, cursor: int, rv: int) -> None:
        """The open watch ``cursor`` has now sent every change up to ``rv``."""
        self._cursors[cursor] = rv

    def close_cursor(self, cursor: int) -> None:
        """The watch ``cursor`` ended."""
        self._cursors.pop(cursor, None)

    def oldest_available(self) -> int:
        """The oldest resourceVersion a watch can still start from."""
        self._tick()
        oldest = self._compacted
        if self._history and len(self._history) == self._history.maxlen:
            oldest = max(oldest, self._history[0].rv - 1)
        return oldest

    def _check_available(self, rv: int) -> None:
        oldest = self.oldest_available()
        if rv < oldest:
            # The watch cache's message (k8s.io/apiserver storage/cacher/watch_cache.go).
            raise gone(f"too old resource version: {rv} ({oldest})")

    def changes_since(self, rv: int, type_key: TypeKey) -> list[Change]:
        """History entries newer than ``rv`` for one type; 410 Gone when ``rv`` is too old."""
        self._check_available(rv)
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
        self._check_available(rv)
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

    def state_at(self, type_key: TypeKey, rv: int) -> dict[ObjKey, JSON]:
        """The objects of a type as they were at ``rv``, rebuilt from the current ones and the
        history after ``rv``; 410 Gone when ``rv`` is compacted."""
        if rv < self.oldest_available():
            raise gone(LIST_EXPIRED)
        state = {key: rec.obj for key, rec in self._data[type_key].items()}
        for change in reversed(self._history):
            if change.rv <= rv:
                break
            if change.type_key != type_key:
                continue
            meta = change.obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            if change.old is None:
                state.pop(key, None)
            else:
                state[key] = change.old
        return state

    def select(
        self,
        rtype: ResourceType,
        namespace: str | None,
        predicate: Predicate,
        *,
        limit: int = 0,
        token: str = "",
        at: int | None = None,
    ) -> tuple[list[JSON], str, str, int]:
        """Objects in (namespace, name) order: (items, resourceVersion, continue, remaining).

        ``at`` reads the objects as they were at that version (410 when compacted); a
        ``continue`` token reads at the version of the list it continues, so the pages of one
        list are consistent."""
        rv, start = self._resume(token) if token else (self._rv if at is None else at, ("", ""))
        if rv == LATEST:
            rv = self._rv
        objects = (
            {k: r.obj for k, r in self._data[rtype.key].items()}
            if rv >= self._rv
            else self.state_at(rtype.key, rv)
        )
        keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
        matching = [objects[k] for k in keys if k > start and predicate(objects[k])]
        if limit and len(matching) > limit:
            last = matching[limit - 1]["metadata"]
            cont = _token(rv, (last.get("namespace", ""), last["name"]))
            return matching[:limit], str(rv), cont, len(matching) - limit
        return matching, str(rv), "", 0

    def _resume(self, token: str) -> tuple[int, ObjKey]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            rv, start = int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise bad_request("continue key is not valid") from exc
        if rv != LATEST and rv < self.oldest_available():
            raise ExpiredContinue(_token(LATEST, start))
        return rv, start

    # -- writes (callers hold the lock and have validated) ---------------------------------

    def commit(self, rtype: ResourceType, obj: JSON, ownership: Ownership, event: str) -> JSON:
        """Store ``obj`` with a new resourceVersion and record the change; returns it."""
        self._tick()
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
        old = previous.obj if previous is not None else None
        if old is not None:
            self._index_owners(rtype.key, old, add=False)
        self._index_owners(rtype.key, obj, add=True)
        if meta.get("ownerReferences") and (
            old is None or old["metadata"].get("ownerReferences") != meta["ownerReferences"]
        ):
            self._check_owners(obj)
        self._data[rtype.key][key] = Record(obj=obj, ownership=ownership)
        self._history.append(Change(rv=self._rv, type_key=rtype.key, type=event, obj=obj, old=old))
        self.changed.notify_all()
        return obj

    def remove(self, rtype: ResourceType, namespace: str, name: str) -> JSON | None:
        """Remove an object now and record DELETED; returns the final object, or None. Its
        dependents, if any, are queued for the garbage collector."""
        rec = self._data[rtype.key].pop((namespace, name), None)
        if rec is None:
            return None
        self._tick()
        self._index_owners(rtype.key, rec.obj, add=False)
        self._rv += 1
        final = copy.copy(rec.obj)
        final["metadata"] = dict(final["metadata"], resourceVersion=str(self._rv))
        self._history.append(
            Change(rv=self._rv, type_key=rtype.key, type="DELETED", obj=final, old=rec.obj)
        )
        uid = str(rec.obj["metadata"].get("uid", ""))
        if uid in self._owned:
            self.schedule_collection(uid, rtype.key, namespace, name)
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

    def _check_owners(self, obj: JSON) -> None:
        """Queue each owner named by ``obj`` that does not exist (or is another object of the
        same name): the garbage collector deletes dependents whose owners are all gone."""
        namespace = obj["metadata"].get("namespace", "")
        for ref in obj["metadata"]["ownerReferences"]:
            owner_type = self.types.by_kind(str(ref.get("apiVersion")), str(ref.get("kind")))
            if owner_type is None:
                continue  # a kind the server does not serve: the collector cannot judge it
            owner_ns = namespace if owner_type.namespaced else ""
            owner = self.find(owner_type.key, owner_ns, str(ref.get("name")))
            uid = str(ref.get("uid", ""))
            if owner is None or owner["metadata"].get("uid") != uid:
                self.schedule_collection(uid, owner_type.key, owner_ns, str(ref.get("name")))

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

    # -- the garbage collector's queue -------------------------------------------------------

    def schedule_collection(
        self, uid: str, type_key: TypeKey, namespace: str, name: str, *, delay: float | None = None
    ) -> None:
        """Queue the owner ``uid`` (at type_key/namespace/name) for the garbage collector,
        due after ``delay`` seconds (default :attr:`gc_delay`); an earlier entry is kept."""
        if uid in self._collect:
            return
        due = time.monotonic() + (self.gc_delay if delay is None else delay)
        self._collect[uid] = Collection(due=due, type_key=type_key, namespace=namespace, name=name)

    def due_collections(self) -> list[tuple[str, Collection]]:
        """Take the queued owners that are due, oldest first."""
        now = time.monotonic()
        due = sorted((c.due, uid) for uid, c in self._collect.items() if c.due <= now)
        return [(uid, self._collect.pop(uid)) for _, uid in due]


def _token(rv: int, start: ObjKey) -> str:
    raw = json.dumps({"rv": rv, "start": list(start)}).encode()
    return base64.urlsafe_b64encode(raw).decode()
