"""A target lease kept as one object in a store with conditional writes (a bucket, a blob).

Clouds keep an infrastructure job's Terraform state in an object store the user owns (S3,
GCS, Azure Blob); the same store can hold the job's lease, beside the state, so that every
engine reaching the state sees it. :class:`ObjectLease` is the lease protocol, written once;
a plugin gives it a :class:`LeaseObjectStore`: four primitives over one object, each a single
conditional request (S3 ``If-None-Match``/``If-Match`` on the ETag, GCS
``ifGenerationMatch``, Azure ``If-Match``). The object is a small JSON document::

    {"job": "<job id>", "holder": "job <id> (pid <pid> on <host>)",
     "renewed_at": <epoch seconds>, "seconds": <duration>}

A lease is free when the object is missing, the job's own when ``job`` is this job's id (a
resumed run takes it back), lapsed when ``renewed_at + seconds`` is past on this engine's
clock; otherwise its holder keeps it. Every write is conditional on the version read, so of two
engines racing for it exactly one wins. See :mod:`qengine.interfaces.lease` for how the
runner takes, renews and releases it.
"""

from __future__ import annotations

import abc
import datetime
import json
import os
import socket
import time
from collections.abc import Callable

from qengine._errors import CancelledError, TargetLockedError
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.lease import TargetLease

__all__ = ["LeaseObjectStore", "ObjectLease"]

POLL_SECONDS = 1.0


class LeaseObjectStore(abc.ABC):
    """One object in a store with conditional writes; versions are opaque strings (an ETag,
    a generation)."""

    def prepare(self) -> bool:
        """Called once before the lease is first read; False when the store cannot hold the
        lease yet (say, the state bucket does not exist before a first create), in which case
        the job runs without a lease object. The default is True."""
        return True

    @abc.abstractmethod
    def read(self) -> tuple[bytes, str] | None:
        """The object's content and version, or None when it does not exist."""

    @abc.abstractmethod
    def create(self, body: bytes) -> str | None:
        """Write the object only if it does not exist: its version, or None if it exists."""

    @abc.abstractmethod
    def replace(self, body: bytes, version: str) -> str | None:
        """Write the object only if it is at ``version``: the new version, or None if not."""

    @abc.abstractmethod
    def delete(self, version: str) -> None:
        """Delete the object only if it is at ``version`` (nothing when it is not, or gone)."""


class ObjectLease(TargetLease):
    """The lease protocol over a :class:`LeaseObjectStore` (see the module's documentation)."""

    def __init__(
        self,
        store: LeaseObjectStore,
        *,
        description: str,
        seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.description = description
        self.seconds = seconds
        self.renew_seconds = seconds / 3
        self._clock = clock
        self._owner = ""
        self._version = ""
        self._active = False

    def acquire(self, owner: str, *, wait_seconds: float, cancel: CancelToken) -> None:
        """Take the lease for job ``owner``, waiting up to ``wait_seconds``."""
        self._owner = owner
        self._active = self.store.prepare()
        if not self._active:
            return
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        while True:
            holder = self._try()
            if holder is None:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TargetLockedError(
                    f"{self.description} is held by {holder}",
                    hint="Wait for that job to end (or --wait-lock SECONDS); a holder "
                    "that was killed loses the lease once it lapses.",
                )
            if cancel.wait(min(POLL_SECONDS, remaining)):
                raise CancelledError(f"cancelled while waiting for {self.description}")

    def renew(self) -> None:
        """Extend the lease; :class:`~qengine.TargetLockedError` when another job took it."""
        if not self._active:
            return
        found = self.store.read()
        if found is None or _content(found[0]).get("job") != self._owner:
            who = _describe(_content(found[0])) if found else "nobody (it was deleted)"
            raise TargetLockedError(f"{self.description} was taken by {who}")
        version = self.store.replace(self._body(), found[1])
        if version is None:
            raise TargetLockedError(f"{self.description} changed under its holder")
        self._version = version

    def release(self) -> None:
        """Delete the lease object at the version this job last wrote."""
        if self._active and self._version:
            self.store.delete(self._version)
        self._version = ""

    def _body(self) -> bytes:
        holder = f"job {self._owner} (pid {os.getpid()} on {socket.gethostname()})"
        content = {
            "job": self._owner,
            "holder": holder,
            "renewed_at": self._clock(),
            "seconds": self.seconds,
        }
        return json.dumps(content, sort_keys=True).encode()

    def _try(self) -> str | None:
        """Take the lease if free, this job's or lapsed: None; else who holds it."""
        found = self.store.read()
        if found is None:
            version = self.store.create(self._body())
            if version is None:
                return self._try()  # created meanwhile: judge what was written
            self._version = version
            return None
        content = _content(found[0])
        until = _number(content.get("renewed_at")) + _number(content.get("seconds"))
        if content.get("job") not in (None, self._owner) and until >= self._clock():
            return _describe(content)
        version = self.store.replace(self._body(), found[1])
        if version is None:
            return self._try()  # another engine wrote it first
        self._version = version
        return None


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _content(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}  # unreadable: treated as lapsed
    return data if isinstance(data, dict) else {}


def _describe(content: dict[str, object]) -> str:
    renewed = content.get("renewed_at")
    when = (
        datetime.datetime.fromtimestamp(float(renewed), tz=datetime.UTC).isoformat()
        if isinstance(renewed, int | float)
        else "never"
    )
    holder = content.get("holder", "an unknown holder")
    return f"{holder}, last renewed {when}, for {content.get('seconds', '?')}s"
