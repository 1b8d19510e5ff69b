"""Watches: a stream of ADDED / MODIFIED / DELETED events from a resourceVersion.

Without a resourceVersion (or with "0") a watch first sends every current object as ADDED,
as the API server does. A version older than the retained history gets a single ERROR event
carrying a 410 Expired Status, after which clients re-list. BOOKMARK events carry the
current resourceVersion when ``allowWatchBookmarks`` is set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs

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


def _initial(store: Store, req: WatchRequest) -> tuple[list[JSON], int]:
    with store.lock:
        if req.resource_version in ("", "0"):
            items, _, _, _ = store.select(req.rtype, req.namespace, req.predicate)
            return [_event("ADDED", o) for o in items], store.resource_version
        try:
            start = int(req.resource_version)
        except ValueError as exc:
            raise bad_request(f"invalid resource version {req.resource_version!r}") from exc
        return [], start


def events(store: Store, req: WatchRequest, stopping: Callable[[], bool]) -> Iterator[JSON]:
    """Yield watch events until the timeout, server shutdown, or a 410."""
    deadline = time.monotonic() + req.timeout
    try:
        first, rv = _initial(store, req)
        with store.lock:
            store.changes_since(rv, req.rtype.key)
    except ApiError as exc:
        yield _event("ERROR", exc.body())
        return
    yield from first
    next_bookmark = time.monotonic() + BOOKMARK_INTERVAL
    while not stopping() and time.monotonic() < deadline:
        with store.lock:
            try:
                changes = store.changes_since(rv, req.rtype.key)
            except ApiError as exc:
                yield _event("ERROR", exc.body())
                return
            if not changes:
                wait = min(deadline, next_bookmark) - time.monotonic()
                store.changed.wait(timeout=max(0.0, min(wait, 0.5)))
                changes = store.changes_since(rv, req.rtype.key)
            latest = store.resource_version
        for change in changes:
            kind = _visible_as(req, change)
            if kind is not None:
                yield _event(kind, change.obj)
        rv = max(rv, latest)
        if req.bookmarks and time.monotonic() >= next_bookmark:
            yield _bookmark(req.rtype, rv)
            next_bookmark = time.monotonic() + BOOKMARK_INTERVAL
