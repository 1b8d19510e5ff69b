"""Watches: a stream of ADDED / MODIFIED / DELETED events from a resourceVersion.

Without a resourceVersion (or with "0") a watch first sends every current object as ADDED,
as the API server does. A version older than the retained history (compacted, see
:mod:`qengine.testing.kube.store`) gets a single ERROR event carrying a ``410 Expired``
Status ("too old resource version: N (M)", as the watch cache words it) in a ``200``
response, after which clients re-list. An open watch is not cut short by compaction (the
watch cache feeds it whatever etcd compacts), only by falling out of the bounded history.
A version the server has not reached yet is watched from (its events come when it is).
BOOKMARK events carry the current resourceVersion when ``allowWatchBookmarks`` is set.
``resourceVersionMatch`` and ``sendInitialEvents`` (the WatchList feature, off by default in
Kubernetes 1.31) are refused with ``422`` before the stream starts (:func:`check_options`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from qengine.testing.kube.listing import check_watch_options
from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.selectors import Predicate
from qengine.testing.kube.status import ApiError, bad_request
from qengine.testing.kube.store import Change, Store

JSON = dict[str, Any]
BOOKMARK_INTERVAL = 1.0
DEFAULT_TIMEOUT = 1800.0


@attrs.frozen(kw_only=True)
class WatchRequest:
    """What a watch asks for."""

    rtype: ResourceType
    namespace: str | None
    predicate: Predicate
    resource_version: str
    timeout: float
    bookmarks: bool


def check_options(query: dict[str, str]) -> None:
    """422 for watch parameters the server refuses (before any event is sent)."""
    check_watch_options(query)


def _event(kind: str, obj: JSON) -> JSON:
    return {"type": kind, "object": obj}


def _bookmark(rtype: ResourceType, rv: int) -> JSON:
    return _event(
        "BOOKMARK",
        {
            "kind": rtype.kind,
            "apiVersion": rtype.api_version,
            "metadata": {"resourceVersion": str(rv)},
        },
    )


def _matches(req: WatchRequest, obj: JSON) -> bool:
    if req.namespace is not None and obj["metadata"].get("namespace") != req.namespace:
        return False
    return req.predicate(obj)


def _visible_as(req: WatchRequest, change: Change) -> str | None:
    """The event type a filtered watch sees: an object that starts or stops matching the
    selector is ADDED or DELETED for it, as the API server's watch cache reports it."""
    now = _matches(req, change.obj)
    if change.type != "MODIFIED" or change.old is None:
        return change.type if now else None
    before = _matches(req, change.old)
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    return "DELETED" if before else None


def _start(store: Store, req: WatchRequest) -> tuple[list[JSON], int, int]:
    """(initial events, version to watch from, cursor id); 410 for a compacted version."""
    with store.lock:
        if req.resource_version in ("", "0"):
            items, _, _, _ = store.select(req.rtype, req.namespace, req.predicate)
            first, start = [_event("ADDED", o) for o in items], store.resource_version
        else:
            try:
                start = int(req.resource_version)
            except ValueError as exc:
                raise bad_request(f"invalid resource version {req.resource_version!r}") from exc
            first = []
        store.changes_since(start, req.rtype.key)
        return first, start, store.open_cursor(start)


def events(store: Store, req: WatchRequest, stopping: Callable[[], bool]) -> Iterator[JSON]:
    """Yield watch events until the timeout, server shutdown, or a 410. While the watch is
    open, compaction keeps the changes it has not sent (:meth:`Store.open_cursor`)."""
    try:
        first, rv, cursor = _start(store, req)
    except ApiError as exc:
        yield _event("ERROR", exc.body())
        return
    try:
        yield from first
        yield from _follow(store, req, stopping, rv, cursor)
    finally:
        with store.lock:
            store.close_cursor(cursor)


def _follow(
    store: Store, req: WatchRequest, stopping: Callable[[], bool], rv: int, cursor: int
) -> Iterator[JSON]:
    deadline = time.monotonic() + req.timeout
    next_bookmark = time.monotonic() + BOOKMARK_INTERVAL
    while not stopping() and time.monotonic() < deadline:
        with store.lock:
            try:
                changes = store.changes_since(rv, req.rtype.key)
                if not changes:
                    # Without bookmarks only the deadline ends a wait: a bookmark time long
                    # past would make every wait zero, the loop spinning on a CPU till then.
                    until = min(deadline, next_bookmark) if req.bookmarks else deadline
                    wait = until - time.monotonic()
                    store.changed.wait(timeout=max(0.0, min(wait, 0.5)))
                    changes = store.changes_since(rv, req.rtype.key)
            except ApiError as exc:  # fell out of the bounded history
                expired: JSON | None = exc.body()
            else:
                expired = None
                rv = max(rv, store.resource_version)
                store.move_cursor(cursor, rv)
        if expired is not None:
            yield _event("ERROR", expired)
            return
        for change in changes:
            kind = _visible_as(req, change)
            if kind is not None:
                yield _event(kind, change.obj)
        if req.bookmarks and time.monotonic() >= next_bookmark:
            yield _bookmark(req.rtype, rv)
            next_bookmark = time.monotonic() + BOOKMARK_INTERVAL
