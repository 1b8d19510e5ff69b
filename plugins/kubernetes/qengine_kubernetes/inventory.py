"""The live objects of an environment, listed once per kind for the whole job.

Deciding whether an object is up to date needs its live version. Reading each one is a GET
per object, so a no-op redeploy of N services cost about 4N requests; listing costs one
request per kind in the namespace, whatever N. The services' deploy steps read their objects
and their history Secrets from this inventory instead: a kind is listed the first time any
step of the job asks for it (label ``qengine.dev/environment-id=<id>``: every object qengine
renders, and every history Secret, carries it), and what the job writes itself is recorded
into it, so a step retried within the job sees its own earlier writes. A service's step asks
for all the kinds it uses at once (:meth:`Inventory.prefetch`): their lists are sent together.

What this gives up: a step decides on the state of its kinds as listed when the job first
needed them, not as read just before applying. The window is the job's length rather than a
request's; within it another client's change to a qengine object goes unseen until the next
job, as it already did between the read and the apply (and as drift does: see
:mod:`qengine_kubernetes.diff`). The environment's Lease keeps other qengine jobs out. Every
write is still a server-side apply, so an object that is in fact absent is created, and the
answer's status (201) tells a creation from an update, not the inventory.

Compensations, rollbacks, pause, resume and delete read the cluster directly.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable

from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.render import Manifest
from qengine_kubernetes.render.labels import ENVIRONMENT_ID


class Inventory:
    """The live objects labelled with one environment's id in its namespace, by kind.

    Thread-safe: the steps of one job share it. Objects it hands out are its own; callers
    must not change them.
    """

    def __init__(self, api: KubeApi, namespace: str, environment_id: str) -> None:
        self.api = api
        self.namespace = namespace
        self.selector = f"{ENVIRONMENT_ID}={environment_id}"
        self._kinds: dict[str, dict[str, Manifest]] = {}
        self._lock = threading.Lock()
        self._listing: dict[str, threading.Lock] = {}

    def get(self, kind: str, name: str) -> Manifest | None:
        """The live ``kind`` named ``name`` as listed (or as this job last wrote it)."""
        return self._of(kind).get(name)

    def prefetch(self, kinds: Iterable[str]) -> None:
        """List at once each of ``kinds`` not listed yet nor being listed: the first step of
        a job asks for every kind its service uses, one round trip rather than one per kind.
        The same lists as :meth:`get` would send, one per kind; a failure raises here as it
        would there."""
        held: list[tuple[str, threading.Lock]] = []
        try:
            with self._lock:
                for kind in dict.fromkeys(kinds):
                    listing = self._listing.setdefault(kind, threading.Lock())
                    if kind not in self._kinds and listing.acquire(blocking=False):
                        held.append((kind, listing))
                wanted = [kind for kind, _ in held if kind not in self._kinds]
            listed = self.api.list_kinds(wanted, self.namespace, self.selector)
            with self._lock:
                for kind, items in listed.items():
                    self._kinds.setdefault(kind, {item["metadata"]["name"]: item for item in items})
        finally:
            for _, listing in held:
                listing.release()

    def record(self, obj: Manifest) -> None:
        """Remember ``obj`` (an answer to this job's write) as the live version of its name."""
        kind = obj.get("kind")
        with self._lock:
            known = self._kinds.get(kind) if isinstance(kind, str) else None
            if known is not None:
                known[obj["metadata"]["name"]] = obj

    def forget(self, kind: str, name: str) -> None:
        """``name`` was deleted by this job."""
        with self._lock:
            known = self._kinds.get(kind)
            if known is not None:
                known.pop(name, None)

    def _of(self, kind: str) -> dict[str, Manifest]:
        with self._lock:
            known = self._kinds.get(kind)
            if known is not None:
                return known
            listing = self._listing.setdefault(kind, threading.Lock())
        with listing:  # one list per kind, even when several steps ask at once
            with self._lock:
                known = self._kinds.get(kind)
            if known is not None:
                return known
            items = self.api.list(kind, self.namespace, self.selector)
            listed = {item["metadata"]["name"]: item for item in items}
            with self._lock:
                return self._kinds.setdefault(kind, listed)


_INVENTORIES: weakref.WeakKeyDictionary[KubeApi, dict[tuple[str, str], Inventory]] = (
    weakref.WeakKeyDictionary()
)
_GUARD = threading.Lock()


def inventory_of(api: KubeApi, namespace: str, environment_id: str) -> Inventory:
    """The inventory of ``namespace`` seen through ``api`` (one client per job, so one
    inventory per job)."""
    with _GUARD:
        mine = _INVENTORIES.setdefault(api, {})
        found = mine.get((namespace, environment_id))
        if found is None:
            found = mine[(namespace, environment_id)] = Inventory(api, namespace, environment_id)
        return found
