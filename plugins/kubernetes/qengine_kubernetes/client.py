"""A thin JSON client of the Kubernetes API: paths, verbs, watches.

Objects stay plain JSON data end to end (no generated models): what is rendered is what is
sent, and what is read is compared as is. The connection pool, TLS and authentication
(including kubeconfig exec plugins) are the job's
:class:`~qengine_kubernetes.transport.Transport`'s. Only built while a step runs.

Retries happen here, per request, and nowhere else: the verbs the engine sends are idempotent
(GET, server-side apply, merge patches of absolute values, DELETE) or guarded (a create answers
409 once it landed, a replace carries its resourceVersion), so a request that got a
429, a 5xx or a dropped connection is sent again after a jittered exponential backoff
(:data:`REQUEST_RETRY`), honouring the server's ``Retry-After`` only when it sent one. The
transport's own silent retries are switched off (see :mod:`qengine_kubernetes.access`), so
this policy is the whole story. A request that still fails when the budget is spent raises a
non-retryable :class:`~qengine.plugin.InfrastructureError`: re-running the whole step would
only repeat what the request already tried. Backoffs sleep on the running step's cancel token
(:func:`cancelled_by`), so a cancelled job never waits out a backoff.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar, copy_context
from typing import Any

from qengine.plugin import (
    AuthError,
    CancelToken,
    ConflictError,
    DeploymentError,
    InfrastructureError,
    QuotaError,
    RetryNotice,
    RetryPolicy,
    TransientError,
)
from qengine_kubernetes.render.context import Manifest
from qengine_kubernetes.resources import resource_of
from qengine_kubernetes.transport import Transport

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
FIELD_MANAGER = "qengine"


REQUEST_RETRY = RetryPolicy(
    max_attempts=10, max_elapsed_seconds=60.0, initial_backoff=0.1, max_backoff=5.0
)
"""Each request's retry budget: up to 10 attempts within 60 s, full-jitter backoff from 0.1 s
doubling to at most 5 s (a server's ``Retry-After`` is honoured as given)."""

_CANCEL: ContextVar[CancelToken | None] = ContextVar("qengine_kubernetes_cancel", default=None)


@contextlib.contextmanager
def cancelled_by(token: CancelToken) -> Iterator[None]:
    """Within this block (on this thread), request backoffs sleep on ``token``: a step wraps
    its work in it with its own cancel token."""
    reset = _CANCEL.set(token)
    try:
        yield
    finally:
        _CANCEL.reset(reset)


class NotFoundError(InfrastructureError):
    """The object does not exist (404)."""


class RetryCounter:
    """How many requests were sent again, the backoff before each, and how many requests
    spent their budget: thread-safe, for the job's recap and for tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.retries = 0
        self.gave_up = 0
        self.waits: list[float] = []

    def retried(self, notice: RetryNotice) -> None:
        """Count one retry and its backoff."""
        with self._lock:
            self.retries += 1
            self.waits.append(notice.wait_seconds)

    def spent(self) -> None:
        """Count one request whose budget ran out."""
        with self._lock:
            self.gave_up += 1


class KubeApi:
    """JSON requests to one cluster, through ``transport``.

    Thread-safe as the transport's pool is: the steps of one job share it.
    """

    def __init__(self, transport: Transport, *, retry: RetryPolicy = REQUEST_RETRY) -> None:
        self.transport = transport
        self.retry = retry
        self.counter = RetryCounter()

    def _retrying(self, method: str, path: str, once: Any) -> Any:
        """``once()`` under the request retry policy; a spent budget becomes final."""
        try:
            return self.retry.call(once, cancel=_CANCEL.get(), on_retry=self.counter.retried)
        except TransientError as exc:
            self.counter.spent()
            raise InfrastructureError(
                f"{exc} (gave up after the request's retry budget: "
                f"{self.retry.max_attempts} attempts within {self.retry.max_elapsed_seconds:.0f}s)",
                hint=exc.hint or "The Kubernetes API kept failing; check its health and load.",
            ) from exc

    # -- raw -----------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
        timeout: float | None = 60.0,
        stream: bool = False,
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        try:
            return self.transport.send(
                method,
                path,
                query=query,
                body=data,
                headers=headers,
                timeout=timeout,
                stream=stream,
            )
        except (_http_errors(), OSError) as exc:
            # A dropped connection, a reset, a TLS failure: sent again (see _retrying).
            raise TransientError(
                f"{method} {path}: {type(exc).__name__}",
                hint="The Kubernetes API could not be reached; check the endpoint and network.",
            ) from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
    ) -> Manifest:
        """Send one request and return the decoded JSON answer; raise qengine errors.

        Transient failures are retried here (see the module's documentation)."""
        return self.exchange(method, path, query=query, body=body, content_type=content_type)[1]

    def exchange(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
    ) -> tuple[int, Manifest]:
        """As :meth:`request`, with the answer's HTTP status (of the attempt that succeeded)."""

        def once() -> tuple[int, Manifest]:
            response = self._send(method, path, query=query, body=body, content_type=content_type)
            data = response.data
            answer: Manifest = json.loads(data) if data else {}
            if response.status >= 400:
                raise _error(response.status, method, path, answer, _retry_after(response))
            return int(response.status), answer

        result: tuple[int, Manifest] = self._retrying(method, path, once)
        return result

    # -- objects ---------------------------------------------------------------------------------

    def get(self, kind: str, namespace: str | None, name: str) -> Manifest | None:
        """The live object, or None when it does not exist."""
        try:
            return self.request("GET", resource_of(kind).path(namespace, name))
        except NotFoundError:
            return None

    def list(self, kind: str, namespace: str | None, selector: str = "") -> list[Manifest]:
        """The live objects of ``kind`` matching the label ``selector`` (none for a kind of
        custom resource whose CRD the cluster does not serve)."""
        query = {"labelSelector": selector} if selector else {}
        resource = resource_of(kind)
        try:
            answer = self.request("GET", resource.path(namespace), query=query)
        except NotFoundError:
            if not resource.optional:
                raise
            return []
        items: list[Manifest] = answer.get("items", [])
        for item in items:  # lists omit kind and apiVersion on items
            item.setdefault("kind", kind)
        return items

    def list_kinds(
        self, kinds: Iterable[str], namespace: str | None, selector: str = ""
    ) -> dict[str, builtins.list[Manifest]]:
        """:meth:`list` of each of ``kinds``, the requests sent at once: one round trip's wait
        rather than one per kind. Raises the first failure (in the order of ``kinds``)."""
        wanted = list(dict.fromkeys(kinds))
        if len(wanted) < 2:
            return {kind: self.list(kind, namespace, selector) for kind in wanted}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(wanted), thread_name_prefix="qengine-list") as pool:
            # Each list runs in a copy of this thread's context: its backoffs sleep on the
            # step's cancel token (cancelled_by) as they would here.
            futures = {
                kind: pool.submit(copy_context().run, self.list, kind, namespace, selector)
                for kind in wanted
            }
            return {kind: future.result() for kind, future in futures.items()}

    def apply(self, obj: Manifest, *, force: bool = True) -> Manifest:
        """Server-side apply ``obj`` as field manager ``qengine``."""
        return self.apply_created(obj, force=force)[0]

    def apply_created(self, obj: Manifest, *, force: bool = True) -> tuple[Manifest, bool]:
        """Server-side apply ``obj``: the live object and whether this apply created it (the
        API answers an apply that creates with ``201 Created``). A retried apply whose first
        attempt landed but lost its answer reports an update."""
        meta = obj["metadata"]
        path = resource_of(obj["kind"]).path(meta.get("namespace"), meta["name"])
        query = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        status, live = self.exchange("PATCH", path, query=query, body=obj, content_type=APPLY)
        live.setdefault("kind", obj["kind"])
        return live, status == 201

    def merge_patch(self, kind: str, namespace: str | None, name: str, patch: Manifest) -> Manifest:
        """A JSON merge patch of ``name``, as field manager ``qengine``."""
        path = resource_of(kind).path(namespace, name)
        query = {"fieldManager": FIELD_MANAGER}
        return self.request("PATCH", path, query=query, body=patch, content_type=MERGE)

    def create(self, obj: Manifest) -> Manifest:
        """Create ``obj`` (POST): a :class:`~qengine.plugin.ConflictError` when it exists.

        Sent again after a lost answer like any request: a create that did land then answers
        409, which the caller reads as "exists" and checks by reading the object."""
        meta = obj["metadata"]
        path = resource_of(obj["kind"]).path(meta.get("namespace"))
        return self.request("POST", path, query={"fieldManager": FIELD_MANAGER}, body=obj)

    def replace(self, obj: Manifest) -> Manifest:
        """Replace ``obj`` (PUT) at its ``metadata.resourceVersion``: a
        :class:`~qengine.plugin.ConflictError` when the object changed since it was read."""
        meta = obj["metadata"]
        path = resource_of(obj["kind"]).path(meta.get("namespace"), meta["name"])
        return self.request("PUT", path, query={"fieldManager": FIELD_MANAGER}, body=obj)

    def delete(
        self, kind: str, namespace: str | None, name: str, *, resource_version: str = ""
    ) -> bool:
        """Delete ``name`` (background propagation); False when it was already gone.

        ``resource_version``: delete only that version of the object (a
        :class:`~qengine.plugin.ConflictError` when it changed)."""
        body: Manifest = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Background",
        }
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        try:
            self.request("DELETE", resource_of(kind).path(namespace, name), body=body)
        except NotFoundError:
            return False
        return True

    def pod_log(self, namespace: str, pod: str, container: str, lines: int = 20) -> str:
        """The last ``lines`` of a container's log ('' when unavailable)."""
        path = resource_of("Pod").path(namespace, pod) + "/log"
        query = {"container": container, "tailLines": str(lines)}
        try:
            response = self._send("GET", path, query=query)
            data: bytes = response.data
        except (TransientError, OSError, _http_errors()):
            return ""  # a log is a courtesy of the failure report, never a reason to fail
        return data.decode("utf-8", "replace") if response.status < 400 else ""

    # -- watch -----------------------------------------------------------------------------------

    def watch(
        self,
        kind: str,
        namespace: str | None,
        *,
        field_selector: str = "",
        label_selector: str = "",
        resource_version: str = "",
        timeout_seconds: int = 5,
    ) -> Iterator[tuple[str, Manifest]]:
        """(type, object) of each watch event until the server ends the watch.

        Closing the generator closes the connection, so a caller stops a watch by leaving
        its loop. Opening the watch is retried as any request; a watch cut off mid-stream
        simply ends, as a server-side timeout does (callers read the object again and
        re-watch from there).
        """
        query = {"watch": "1", "timeoutSeconds": str(timeout_seconds)}
        if field_selector:
            query["fieldSelector"] = field_selector
        if label_selector:
            query["labelSelector"] = label_selector
        if resource_version:
            query["resourceVersion"] = resource_version
        path = resource_of(kind).path(namespace)

        def opened() -> Any:
            response = self._send(
                "GET", path, query=query, timeout=timeout_seconds + 30.0, stream=True
            )
            if response.status >= 400:
                try:
                    data = response.read()
                except (OSError, _http_errors()) as exc:
                    raise TransientError(f"WATCH {path}: the answer was cut off") from exc
                finally:
                    response.release_conn()
                answer = json.loads(data) if data else {}
                raise _error(response.status, "WATCH", path, answer, _retry_after(response))
            return response

        raw = self._retrying("WATCH", path, opened)
        finished = False
        try:
            buffer = b""
            try:
                for chunk in raw.stream(4096, decode_content=False):
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if line.strip():
                            event = json.loads(line)
                            yield event["type"], event["object"]
            except (OSError, _http_errors()):
                return  # cut off mid-stream: the caller reads and watches again
            finished = True
        finally:
            if not finished:
                # Left early: unread events must not reach the next request on this connection.
                raw.close()
            raw.release_conn()


def _http_errors() -> type[Exception]:
    from urllib3.exceptions import HTTPError

    return HTTPError


def _retry_after(response: Any) -> float | None:
    """The seconds of the answer's ``Retry-After`` header, when the server sent one."""
    value = response.headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: not sent by the Kubernetes API; backoff applies
    return seconds if seconds is not None and seconds >= 0 else None


def _error(
    status: int, method: str, path: str, answer: Manifest, retry_after: float | None = None
) -> Exception:
    message = f"{method} {path}: {status} {answer.get('reason', '')}: {answer.get('message', '')}"
    if status == 404:
        return NotFoundError(message)
    if status in (401, 403):
        if answer.get("reason") == "NamespaceTerminating":
            return TransientError(message, retry_after=retry_after)
        return AuthError(
            message, hint="Check the credentials of the target and that they may manage it."
        )
    if status == 409:
        return ConflictError(message, hint="Another client changed the object; run again.")
    if status == 429 or status >= 500:
        if retry_after is None:
            hinted = (answer.get("details") or {}).get("retryAfterSeconds")
            retry_after = float(hinted) if isinstance(hinted, int | float) else None
        return TransientError(message, retry_after=retry_after)
    if status == 422 or status == 400:
        return DeploymentError(message, hint="The cluster refused the object as invalid.")
    if "quota" in str(answer.get("message", "")).lower():
        return QuotaError(message, hint="Raise the namespace's quota or lower the requests.")
    return InfrastructureError(message, hint="The Kubernetes API refused the request.")
