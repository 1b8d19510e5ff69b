"""A thin JSON client over the official ``kubernetes`` ApiClient: paths, verbs, watches.

Objects stay plain JSON data end to end (no generated models): what is rendered is what is
sent, and what is read is compared as is. The ApiClient brings the connection pool, TLS and
authentication (including kubeconfig exec plugins). Only built while a step runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from qengine.plugin import (
    AuthError,
    ConflictError,
    DeploymentError,
    InfrastructureError,
    QuotaError,
    TransientError,
)
from qengine_kubernetes.render.context import Manifest
from qengine_kubernetes.resources import resource_of

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
FIELD_MANAGER = "qengine"


class NotFoundError(InfrastructureError):
    """The object does not exist (404)."""


class KubeApi:
    """JSON requests to one cluster, through ``api_client`` (a ``kubernetes.client.ApiClient``).

    Thread-safe as the ApiClient's pool is: the steps of one job share it.
    """

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client

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
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        _, url, headers, _, _ = self.api_client.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params=headers,
            auth_settings=["BearerToken"],
        )
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return self.api_client.call_api(
                method, url, header_params=headers, body=body, _request_timeout=timeout
            )
        except (HTTPError, ApiException, OSError) as exc:
            # A dropped connection, a reset, a TLS failure: the runner retries the step.
            raise TransientError(
                f"{method} {path}: {type(exc).__name__}",
                hint="The Kubernetes API could not be reached; check the endpoint and network.",
                retry_after=1.0,
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
        """Send one request and return the decoded JSON answer; raise qengine errors."""
        response = self._send(method, path, query=query, body=body, content_type=content_type)
        data = response.read()
        answer: Manifest = json.loads(data) if data else {}
        if response.status >= 400:
            raise _error(response.status, method, path, answer)
        return answer

    # -- objects ---------------------------------------------------------------------------------

    def get(self, kind: str, namespace: str | None, name: str) -> Manifest | None:
        """The live object, or None when it does not exist."""
        try:
            return self.request("GET", resource_of(kind).path(namespace, name))
        except NotFoundError:
            return None

    def list(self, kind: str, namespace: str | None, selector: str = "") -> list[Manifest]:
        """The live objects of ``kind`` matching the label ``selector``."""
        query = {"labelSelector": selector} if selector else {}
        answer = self.request("GET", resource_of(kind).path(namespace), query=query)
        items: list[Manifest] = answer.get("items", [])
        for item in items:  # lists omit kind and apiVersion on items
            item.setdefault("kind", kind)
        return items

    def apply(self, obj: Manifest, *, force: bool = True) -> Manifest:
        """Server-side apply ``obj`` as field manager ``qengine``."""
        meta = obj["metadata"]
        path = resource_of(obj["kind"]).path(meta.get("namespace"), meta["name"])
        query = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        return self.request("PATCH", path, query=query, body=obj, content_type=APPLY)

    def merge_patch(self, kind: str, namespace: str | None, name: str, patch: Manifest) -> Manifest:
        """A JSON merge patch of ``name``, as field manager ``qengine``."""
        path = resource_of(kind).path(namespace, name)
        query = {"fieldManager": FIELD_MANAGER}
        return self.request("PATCH", path, query=query, body=patch, content_type=MERGE)

    def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        """Delete ``name`` (background propagation); False when it was already gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        try:
            self.request("DELETE", resource_of(kind).path(namespace, name), body=body)
        except NotFoundError:
            return False
        return True

    def pod_log(self, namespace: str, pod: str, container: str, lines: int = 20) -> str:
        """The last ``lines`` of a container's log ('' when unavailable)."""
        path = resource_of("Pod").path(namespace, pod) + "/log"
        query = {"container": container, "tailLines": str(lines)}
        response = self._send("GET", path, query=query)
        data: bytes = response.read()
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
        its loop.
        """
        query = {"watch": "1", "timeoutSeconds": str(timeout_seconds)}
        if field_selector:
            query["fieldSelector"] = field_selector
        if label_selector:
            query["labelSelector"] = label_selector
        if resource_version:
            query["resourceVersion"] = resource_version
        path = resource_of(kind).path(namespace)
        response = self._send("GET", path, query=query, timeout=timeout_seconds + 30.0)
        raw = response.response
        finished = False
        try:
            if response.status >= 400:
                data = raw.read()
                raise _error(response.status, "WATCH", path, json.loads(data) if data else {})
            buffer = b""
            for chunk in raw.stream(4096, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        event = json.loads(line)
                        yield event["type"], event["object"]
            finished = True
        finally:
            if not finished:
                # Left early: unread events must not reach the next request on this connection.
                raw.close()
            raw.release_conn()


def _error(status: int, method: str, path: str, answer: Manifest) -> Exception:
    message = f"{method} {path}: {status} {answer.get('reason', '')}: {answer.get('message', '')}"
    if status == 404:
        return NotFoundError(message)
    if status in (401, 403):
        if answer.get("reason") == "NamespaceTerminating":
            return TransientError(message, retry_after=2.0)
        return AuthError(
            message, hint="Check the credentials of the target and that they may manage it."
        )
    if status == 409:
        return ConflictError(message, hint="Another client changed the object; run again.")
    if status == 429 or status >= 500:
        retry = answer.get("details", {}).get("retryAfterSeconds", 1)
        return TransientError(message, retry_after=float(retry))
    if status == 422 or status == 400:
        return DeploymentError(message, hint="The cluster refused the object as invalid.")
    if "quota" in str(answer.get("message", "")).lower():
        return QuotaError(message, hint="Raise the namespace's quota or lower the requests.")
    return InfrastructureError(message, hint="The Kubernetes API refused the request.")
