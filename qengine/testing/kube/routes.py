"""Routing of Kubernetes API paths to store operations.

Paths served: ``/version``, ``/healthz`` (and livez, readyz), ``/api``, ``/apis``, discovery
per group and version, a minimal ``/openapi/v3`` (``/openapi/v2`` is 404), and the resource
paths::

    /api/v1/<plural>[/<name>[/<sub>]]                        cluster-scoped, or all namespaces
    /api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]        namespaced
    /apis/<group>/<version>/...                              the same, for named groups
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from qengine.testing.kube import (
    decoding,
    deletion,
    discovery,
    listing,
    openapi,
    protobuf,
    reviews,
    tables,
)
from qengine.testing.kube.context import SimContext
from qengine.testing.kube.http import Request, Response
from qengine.testing.kube.objects import APPLY_PATCH, WriteOptions
from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.scale import scale_of, scale_patch
from qengine.testing.kube.selectors import field_selector, label_selector
from qengine.testing.kube.status import ApiError, bad_request, method_not_allowed
from qengine.testing.kube.watch import DEFAULT_TIMEOUT, WatchRequest, check_options, events

JSON = dict[str, Any]
PROTOBUF = "application/vnd.kubernetes.protobuf"
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    APPLY_PATCH,
)


def _not_found_path(path: str) -> ApiError:
    """404 for a path the server does not serve (``path`` is not echoed, as on a cluster)."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", details={})


def route(ctx: SimContext, req: Request) -> Response:
    """Answer one authenticated Kubernetes API request."""
    parts = [p for p in req.path.split("/") if p]
    if req.path in ("/version", "/version/"):
        return Response(body=discovery.version(ctx.server_version))
    if parts and parts[0] in ("healthz", "livez", "readyz"):
        return Response(raw=b"ok", content_type="text/plain")
    if parts[:2] == ["openapi", "v3"]:
        doc = (
            openapi.root(ctx.types)
            if len(parts) == 2
            else openapi.group_version(ctx.types, "/".join(parts[2:]))
        )
        if doc is None:
            raise _not_found_path(req.path)
        return Response(body=doc)
    if parts and parts[0] == "openapi":
        raise _not_found_path(req.path)
    if parts[:1] == ["api"]:
        return _core(ctx, req, parts[1:])
    if parts[:1] == ["apis"]:
        return _groups(ctx, req, parts[1:])
    raise _not_found_path(req.path)


def _core(ctx: SimContext, req: Request, parts: list[str]) -> Response:
    if not parts:
        return Response(body=discovery.core_versions(ctx.address))
    if parts[0] != "v1":
        raise _not_found_path(req.path)
    if len(parts) == 1:
        return Response(body=discovery.resource_list(ctx.types, "", "v1"))
    return _resource(ctx, req, "", "v1", parts[1:])


def _groups(ctx: SimContext, req: Request, parts: list[str]) -> Response:
    if not parts:
        return Response(body=discovery.group_list(ctx.types))
    if len(parts) == 1:
        doc = discovery.group(ctx.types, parts[0])
        if doc is None:
            raise _not_found_path(req.path)
        return Response(body=doc)
    if len(parts) == 2:
        doc = discovery.resource_list(ctx.types, parts[0], parts[1])
        if doc is None:
            raise _not_found_path(req.path)
        return Response(body=doc)
    return _resource(ctx, req, parts[0], parts[1], parts[2:])


def _split(parts: list[str]) -> tuple[str | None, str, str, str]:
    """(namespace or None, plural, name, subresource) from the path after the version."""
    if parts[0] == "namespaces" and len(parts) >= 3 and parts[2] not in ("status", "finalize"):
        rest = [*parts[2:], "", ""]
        return parts[1], rest[0], rest[1], rest[2]
    rest = [*parts, "", ""]
    return None, rest[0], rest[1], rest[2]


def _resource(
    ctx: SimContext, req: Request, group: str, version: str, parts: list[str]
) -> Response:
    namespace, plural, name, sub = _split(parts)
    rtype = ctx.types.lookup(group, version, plural)
    if rtype is None or (namespace is not None and not rtype.namespaced):
        raise _not_found_path(req.path)
    if namespace is None and rtype.namespaced and name:
        raise _not_found_path(req.path)
    ns = namespace or ""
    reviews.check_request(req, rtype, namespace, name, sub)
    if not name:
        return _collection(ctx, req, rtype, namespace)
    if sub == "log" and rtype.kind == "Pod":
        return ctx.pod_logs(ns, name, req)
    if sub == "eviction" and rtype.kind == "Pod" and req.method == "POST":
        return _evict(ctx, req, rtype, ns, name)
    if sub not in ("", "status", "scale", "finalize") or (sub == "scale" and not rtype.has_scale):
        raise _not_found_path(req.path)
    return _item(ctx, req, rtype, ns, name, sub)


def _evict(ctx: SimContext, req: Request, rtype: ResourceType, ns: str, name: str) -> Response:
    """``pods/eviction``: delete the pod (PodDisruptionBudgets are not enforced)."""
    body = _json_body(req)
    options = body.get("deleteOptions") or {}
    with ctx.store.lock:
        deletion.delete(ctx.api, rtype, ns, name, options, "All" in (options.get("dryRun") or []))
    return Response(
        status=201,
        body={
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        },
    )


def _list_meta(rv: str, cont: str, remaining: int) -> JSON:
    meta: JSON = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
        meta["remainingItemCount"] = remaining
    return meta


def _predicate(req: Request) -> Any:
    labels = label_selector(req.query.get("labelSelector"))
    fields = field_selector(req.query.get("fieldSelector"))
    return lambda obj: labels(obj) and fields(obj)


def _collection(
    ctx: SimContext, req: Request, rtype: ResourceType, namespace: str | None
) -> Response:
    if req.method == "GET" and req.flag("watch"):
        return _watch(ctx, req, rtype, namespace)
    if req.method == "GET":
        return _list(ctx, req, rtype, namespace)
    if req.method == "POST" and rtype.kind in reviews.REVIEW_KINDS:
        answer = reviews.answer(rtype, _json_body(req), req.headers, namespace)
        return Response(status=201, body=answer)
    if req.method == "POST":
        body = _json_body(req)
        opts = _write_options(req)
        with ctx.store.lock:
            created = ctx.api.create(rtype, namespace or "", body, opts)
        return Response(status=201, body=created, headers=decoding.warning_header(opts.warnings))
    if req.method == "DELETE":
        with ctx.store.lock:
            items, _, _, _ = ctx.store.select(rtype, namespace, _predicate(req))
            result = deletion.delete_collection(
                ctx.api, rtype, items, _delete_options(req), _dry(req)
            )
        return Response(body=result)
    raise method_not_allowed()


def _list(ctx: SimContext, req: Request, rtype: ResourceType, namespace: str | None) -> Response:
    with ctx.store.lock:
        items, rv, cont, remaining = listing.read(
            ctx.store, rtype, namespace, _predicate(req), req.query
        )
        if "as=Table" in req.accept:
            table = tables.to_table(
                rtype.kind,
                items,
                _list_meta(rv, cont, remaining),
                ctx.clock.time(),
                req.query.get("includeObject", "Metadata"),
            )
            return Response(body=table, content_type="application/json")
        body = {
            "kind": f"{rtype.kind}List",
            "apiVersion": rtype.api_version,
            "metadata": _list_meta(rv, cont, remaining),
            "items": [_with_type(rtype, o) for o in items],
        }
        return Response(raw=json.dumps(body, separators=(",", ":")).encode())


def _with_type(rtype: ResourceType, obj: JSON) -> JSON:
    if "kind" in obj and "apiVersion" in obj:
        return obj
    return dict(obj, kind=rtype.kind, apiVersion=rtype.api_version)


def _watch(ctx: SimContext, req: Request, rtype: ResourceType, namespace: str | None) -> Response:
    check_options(req.query)
    watch = WatchRequest(
        rtype=rtype,
        namespace=namespace,
        predicate=_predicate(req),
        resource_version=req.query.get("resourceVersion", ""),
        timeout=float(req.query.get("timeoutSeconds") or DEFAULT_TIMEOUT),
        bookmarks=req.flag("allowWatchBookmarks"),
    )
    found = events(ctx.store, watch, ctx.stopping)
    if "as=Table" in req.accept:
        include = req.query.get("includeObject", "Metadata")
        found = _as_tables(ctx, rtype, found, include)
    stream = (json.dumps(event, separators=(",", ":")).encode() + b"\n" for event in found)
    return Response(stream=stream)


def _as_tables(
    ctx: SimContext, rtype: ResourceType, found: Iterator[JSON], include: str
) -> Iterator[JSON]:
    """Watch events as one-row Tables (what ``kubectl get --watch`` asks for); like the API
    server, only the first carries the column definitions."""
    first = True
    for event in found:
        if event["type"] in ("BOOKMARK", "ERROR"):
            yield event
            continue
        obj = event["object"]
        meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
        table = tables.to_table(rtype.kind, [obj], meta, ctx.clock.time(), include)
        if not first:
            table["columnDefinitions"] = []
        first = False
        yield {"type": event["type"], "object": table}


def _item(
    ctx: SimContext, req: Request, rtype: ResourceType, ns: str, name: str, sub: str
) -> Response:
    if sub == "scale":
        return _scale(ctx, req, rtype, ns, name)
    opts = _write_options(req, sub)
    with ctx.store.lock:
        if req.method == "GET":
            obj = ctx.store.get(rtype, ns, name)
            if "as=Table" in req.accept:
                meta = {"resourceVersion": obj["metadata"]["resourceVersion"]}
                include = req.query.get("includeObject", "Metadata")
                return Response(
                    body=tables.to_table(rtype.kind, [obj], meta, ctx.clock.time(), include)
                )
            return Response(body=obj)
        if req.method == "PUT":
            if sub == "finalize":
                return Response(body=ctx.finalize_namespace(name, _json_body(req)))
            updated = ctx.api.update(rtype, ns, name, _json_body(req), opts)
            return Response(body=updated, headers=decoding.warning_header(opts.warnings))
        if req.method == "PATCH":
            if req.content_type not in _PATCH_TYPES:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    f"include: {', '.join(_PATCH_TYPES)}",
                )
            created = ctx.store.record(rtype.key, ns, name) is None
            obj = ctx.api.patch(rtype, ns, name, req.content_type, req.body, opts)
            headers = decoding.warning_header(opts.warnings)
            return Response(status=201 if created else 200, body=obj, headers=headers)
        if req.method == "DELETE" and not sub:
            options = _delete_options(req)
            dry = _dry(req) or "All" in (options.get("dryRun") or [])
            body = deletion.delete(ctx.api, rtype, ns, name, options, dry)
            return Response(body=body)
    raise method_not_allowed()


def _scale(ctx: SimContext, req: Request, rtype: ResourceType, ns: str, name: str) -> Response:
    with ctx.store.lock:
        obj = ctx.store.get(rtype, ns, name)
        if req.method == "GET":
            return Response(body=scale_of(rtype, obj))
        if req.method in ("PUT", "PATCH"):
            current = scale_of(rtype, obj)
            new_scale = scale_patch(req, current)
            replicas = int(new_scale.get("spec", {}).get("replicas", 0))
            patch = json.dumps({"spec": {"replicas": replicas}}).encode()
            opts = _write_options(req)
            updated = ctx.api.patch(rtype, ns, name, "application/merge-patch+json", patch, opts)
            return Response(body=scale_of(rtype, updated))
    raise method_not_allowed()


def _json_body(req: Request) -> JSON:
    if req.content_type == PROTOBUF:
        return protobuf.decode_object(req.body)
    if req.content_type and "json" not in req.content_type and "yaml" not in req.content_type:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml",
        )
    try:
        body = json.loads(req.body or b"null")
    except ValueError as exc:
        raise bad_request(f"the body of the request could not be decoded: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be a JSON object")
    return body


def _dry(req: Request) -> bool:
    dry = req.query.get("dryRun", "")
    if dry and dry != "All":
        raise bad_request(f'dryRun: Unsupported value: "{dry}": supported values: "All"')
    return dry == "All"


def _write_options(req: Request, sub: str = "") -> WriteOptions:
    manager = req.query.get("fieldManager", "")
    if not manager and req.content_type != APPLY_PATCH:
        manager = req.headers.get("user-agent", "unknown").split("/")[0] or "unknown"
    return WriteOptions(
        manager=manager,
        dry_run=_dry(req),
        force=req.flag("force"),
        subresource=sub,
        field_validation=_field_validation(req),
    )


def _field_validation(req: Request) -> str:
    return decoding.field_validation(req.method, req.query.get("fieldValidation", ""))


def _delete_options(req: Request) -> JSON:
    options: JSON = {}
    if req.body and req.content_type == PROTOBUF:
        options = protobuf.decode_object(req.body)
    elif req.body:
        try:
            parsed = json.loads(req.body)
        except ValueError as exc:
            raise bad_request(f"the DeleteOptions could not be decoded: {exc}") from exc
        if isinstance(parsed, dict):
            options = parsed
    if "propagationPolicy" in req.query:
        options["propagationPolicy"] = req.query["propagationPolicy"]
    return options
