"""Which state a list reads: ``resourceVersion`` and ``resourceVersionMatch`` as the API server
of Kubernetes 1.31 serves them (API concepts, "Semantics for get and list"; the watch cache and
the etcd3 store of k8s.io/apiserver):

=================  ==================  ==========================================================
resourceVersion    resourceVersionMatch  what is read
=================  ==================  ==========================================================
unset              (forbidden)         the latest state
``0``              unset, NotOlderThan any state: the latest here; ``limit`` is ignored, as the
                                       watch cache ignores it
N                  unset               not older than N (the latest state); with ``limit``, N
                                       exactly (the legacy paginated case)
N                  NotOlderThan        not older than N
N                  Exact               exactly N: ``410 Gone`` once N is compacted
=================  ==================  ==========================================================

Not older than a version the server has not reached waits up to 3 seconds for it, then answers
``504`` (``ResourceVersionTooLarge``); exactly such a version is the ``500`` that etcd's
"future revision" error becomes. Invalid combinations are ``422`` (``ListOptions`` causes),
and a version with ``continue`` is ``400``.
"""

from __future__ import annotations

import time
from typing import Any

from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.selectors import Predicate
from qengine.testing.kube.status import ApiError, bad_request
from qengine.testing.kube.store import Store

JSON = dict[str, Any]
EXACT = "Exact"
NOT_OLDER = "NotOlderThan"
BLOCK_TIMEOUT = 3.0  # the watch cache's blockTimeout
TOO_LARGE_RETRY = 1  # resourceVersionTooHighRetrySeconds


def invalid_options(causes: list[tuple[str, str, str]]) -> ApiError:
    """422 for ``ListOptions``; each cause is (reason, field, message after the reason)."""
    labels = {"FieldValueForbidden": "Forbidden", "FieldValueNotSupported": "Unsupported value"}
    parts = [f"{field}: {labels.get(reason, reason)}: {text}" for reason, field, text in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'ListOptions.meta.k8s.io "" is invalid: {joined}',
        details={
            "group": "meta.k8s.io",
            "kind": "ListOptions",
            "causes": [
                {"reason": reason, "message": f"{labels.get(reason, reason)}: {text}", "field": f}
                for reason, f, text in causes
            ],
        },
    )


def _unsupported(match: str, allowed: tuple[str, ...]) -> tuple[str, str, str]:
    values = ", ".join(f'"{v}"' for v in allowed)
    return (
        "FieldValueNotSupported",
        "resourceVersionMatch",
        f'"{match}": supported values: {values}',
    )


def check_list_options(query: dict[str, str]) -> None:
    """422 for the combinations a list refuses (apimachinery ValidateListOptions)."""
    match, rv = query.get("resourceVersionMatch", ""), query.get("resourceVersion", "")
    causes: list[tuple[str, str, str]] = []
    if match:
        forbidden = "FieldValueForbidden", "resourceVersionMatch"
        if not rv:
            causes.append(
                (*forbidden, "resourceVersionMatch is forbidden unless resourceVersion is provided")
            )
        if query.get("continue"):
            causes.append(
                (*forbidden, "resourceVersionMatch is forbidden when continue is provided")
            )
        if match not in (EXACT, NOT_OLDER):
            causes.append(_unsupported(match, (EXACT, NOT_OLDER, "")))
        if match == EXACT and rv == "0":
            causes.append(
                (*forbidden, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
            )
    if "sendInitialEvents" in query:
        causes.append(
            ("FieldValueForbidden", "sendInitialEvents", "sendInitialEvents is forbidden for list")
        )
    if causes:
        raise invalid_options(causes)


def check_watch_options(query: dict[str, str]) -> None:
    """422 for what a watch refuses: ``resourceVersionMatch`` and ``sendInitialEvents`` (the
    streaming list of the WatchList feature, off by default in 1.31)."""
    match = query.get("resourceVersionMatch", "")
    causes: list[tuple[str, str, str]] = []
    if "sendInitialEvents" in query:
        if match != NOT_OLDER:
            causes.append(
                (
                    "FieldValueForbidden",
                    "resourceVersionMatch",
                    f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER}",
                )
            )
        causes.append(
            (
                "FieldValueForbidden",
                "sendInitialEvents",
                "sendInitialEvents is forbidden for watch unless the WatchList feature gate is "
                "enabled",
            )
        )
    if match:
        if "sendInitialEvents" not in query:
            causes.append(
                (
                    "FieldValueForbidden",
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                    "provided",
                )
            )
        if match != NOT_OLDER:
            causes.append(_unsupported(match, (NOT_OLDER,)))
    if causes:
        raise invalid_options(causes)


def _version(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise bad_request(f"invalid resource version: {text!r}")
    return value


def _too_large(wanted: int, current: int) -> ApiError:
    return ApiError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {wanted}, current: {current}",
        details={
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": TOO_LARGE_RETRY,
        },
    )


class _FutureRevision(ApiError):
    """etcd's "future revision" error, which reaches the client unclassified: a 500 Status
    without a reason."""

    def __init__(self) -> None:
        super().__init__(500, "", "etcdserver: mvcc: required revision is a future revision")

    def body(self) -> JSON:
        """The Status, without ``reason`` (StatusReasonUnknown is empty)."""
        return {k: v for k, v in super().body().items() if k != "reason"}


def _wait_until(store: Store, wanted: int) -> None:
    """Block (releasing the lock) until the store reaches ``wanted``, as the watch cache
    waits to be fresh enough; 504 after :data:`BLOCK_TIMEOUT`."""
    deadline = time.monotonic() + BLOCK_TIMEOUT
    while store.resource_version < wanted and not store.closed:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _too_large(wanted, store.resource_version)
        store.changed.wait(timeout=left)


def read(
    store: Store,
    rtype: ResourceType,
    namespace: str | None,
    predicate: Predicate,
    query: dict[str, str],
) -> tuple[list[JSON], str, str, int]:
    """The list a query asks for, as :meth:`Store.select` returns it (caller holds the lock).

    See the module docstring for the semantics; raises the API server's errors."""
    check_list_options(query)
    rv_text, match = query.get("resourceVersion", ""), query.get("resourceVersionMatch", "")
    limit = int(query.get("limit") or 0)
    token = query.get("continue", "")
    if token:
        if rv_text not in ("", "0"):
            raise bad_request("specifying resource version is not allowed when using continue")
        return store.select(rtype, namespace, predicate, limit=limit, token=token)
    if rv_text in ("", "0"):
        if rv_text == "0":
            limit = 0
        return store.select(rtype, namespace, predicate, limit=limit)
    wanted = _version(rv_text)
    if match == EXACT or (not match and limit > 0):
        if wanted > store.resource_version:
            raise _FutureRevision()
        return store.select(rtype, namespace, predicate, limit=limit, at=wanted)
    _wait_until(store, wanted)
    return store.select(rtype, namespace, predicate, limit=limit)
