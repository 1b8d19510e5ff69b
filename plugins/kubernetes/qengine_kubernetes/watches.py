"""One watch per kind and namespace for a job's rollout waits, shared by its steps.

A wait used to open its own watch of its object (``fieldSelector=metadata.name=...``) for
every window of a few seconds; with N services rolling out that is N watches at least, each on
a connection of its own (a watch left early cannot return its connection to the pool), so a
TLS handshake each. Here the first wait on a kind in a namespace starts one watch of the whole
kind there (no ``resourceVersion``: the API first sends every object as ``ADDED``, then each
change), kept by a daemon thread in windows of :data:`WINDOW_SECONDS`, resumed from the last
version seen, started afresh after an ``ERROR`` event (``410 Gone``). Each wait takes the
latest version of its object from it. When no wait has used it for a window, the thread ends.

A version is handed to a wait only when it is of the object the wait read (same ``uid``) and
at least of its ``generation``: a version older than the wait's own write must not pass for
its rollout. A wait still reads its object at each of its windows (see
:mod:`qengine_kubernetes.rollout`), so if the shared watch fails, waits go on at the pace of
their windows rather than failing.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Generator

from qengine.plugin import CancelToken, QengineError
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.render import Manifest

WINDOW_SECONDS = 5
_SLICE = 0.25  # how often a waiting step looks at its cancel token


def _generation(obj: Manifest) -> int:
    return int(obj.get("metadata", {}).get("generation") or 0)


class KindWatch:
    """The latest version of each object of ``kind`` in ``namespace``, as one watch tells."""

    def __init__(self, api: KubeApi, kind: str, namespace: str) -> None:
        self.api = api
        self.kind = kind
        self.namespace = namespace
        self._cond = threading.Condition()
        self._latest: dict[str, tuple[str, Manifest]] = {}
        self._users = 0
        self._running = False

    def changes(
        self, live: Manifest, seconds: float, cancel: CancelToken
    ) -> Generator[tuple[str, Manifest], None, None]:
        """(event, object) for each newer version of ``live``'s object within ``seconds``:
        ``MODIFIED`` (or ``ADDED``), or ``DELETED`` once it is gone. Ends early when the
        watch stops or ``cancel`` is set."""
        meta = live["metadata"]
        name, uid, generation = meta["name"], meta.get("uid"), _generation(live)
        seen = meta.get("resourceVersion")
        deadline = time.monotonic() + seconds
        self._enter()
        try:
            while True:
                change = self._next(name, uid, generation, seen, deadline, cancel)
                if change is None:
                    return
                seen = change[1]["metadata"].get("resourceVersion")
                yield change
        finally:
            self._leave()

    def _next(
        self,
        name: str,
        uid: object,
        generation: int,
        seen: object,
        deadline: float,
        cancel: CancelToken,
    ) -> tuple[str, Manifest] | None:
        with self._cond:
            while True:
                entry = self._latest.get(name)
                if entry is not None:
                    event, obj = entry
                    meta = obj["metadata"]
                    newer = meta.get("uid") == uid and meta.get("resourceVersion") != seen
                    if newer and (event == "DELETED" or _generation(obj) >= generation):
                        return entry
                remaining = deadline - time.monotonic()
                if not self._running or remaining <= 0 or cancel.cancelled:
                    return None
                self._cond.wait(min(remaining, _SLICE))

    def _enter(self) -> None:
        with self._cond:
            self._users += 1
            if not self._running:
                self._running = True
                name = f"qengine-watch-{self.kind}"
                threading.Thread(target=self._run, name=name, daemon=True).start()

    def _leave(self) -> None:
        with self._cond:
            self._users -= 1

    def _run(self) -> None:
        version = ""
        try:
            while True:
                with self._cond:
                    if self._users == 0:
                        return
                version = self._window(version)
        except QengineError:
            return  # the waits go on reading their objects at each of their windows
        finally:
            with self._cond:
                self._running = False
                self._cond.notify_all()

    def _window(self, version: str) -> str:
        """One window of the watch from ``version``; the version to go on from ('' to start
        afresh)."""
        events = self.api.watch(
            self.kind, self.namespace, resource_version=version, timeout_seconds=WINDOW_SECONDS
        )
        for event, obj in events:
            if event == "ERROR":
                return ""  # 410 Gone: the version is compacted; start again from now
            meta = obj.get("metadata", {})
            version = meta.get("resourceVersion", version)
            if event in ("ADDED", "MODIFIED", "DELETED") and "name" in meta:
                obj.setdefault("kind", self.kind)
                with self._cond:
                    self._latest[meta["name"]] = (event, obj)
                    self._cond.notify_all()
        return version


_WATCHES: weakref.WeakKeyDictionary[KubeApi, dict[tuple[str, str], KindWatch]] = (
    weakref.WeakKeyDictionary()
)
_GUARD = threading.Lock()


def shared_watch(api: KubeApi, kind: str, namespace: str) -> KindWatch:
    """The watch of ``kind`` in ``namespace`` through ``api`` (one client per job)."""
    with _GUARD:
        mine = _WATCHES.setdefault(api, {})
        found = mine.get((kind, namespace))
        if found is None:
            found = mine[(kind, namespace)] = KindWatch(api, kind, namespace)
        return found
