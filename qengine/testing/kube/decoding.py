"""Decoding a request's object as the API server does, with field validation.

Before a write is validated, the real API server decodes the object into its Go type; a body
that does not fit is refused there, with errors whose shape depends on how the object came
(the handlers of ``k8s.io/apiserver/pkg/endpoints/handlers``, Kubernetes 1.31):

* create (POST) and update (PUT): ``400 BadRequest`` ``Deployment in version "v1" cannot be
  handled as a Deployment: <error>``;
* JSON, merge and strategic merge patches: the patched object is decoded; ``422 Invalid``
  with one cause on the field ``patch`` whose value is the patched object (JSON and merge
  patches) or the patch (strategic merge, printed as a Go map);
* server-side apply: the configuration's typed conversion; a failure is a plain error, which
  the real server answers as ``500`` with no reason (``failed to create typed patch object
  (ns/name; apps/v1, Kind=Deployment): .spec.foo: field not declared in schema``), whatever
  ``fieldValidation`` says.

``fieldValidation`` (``Strict``, ``Warn``, the default when a request names none, or
``Ignore``) decides what unknown fields do in the first two cases: ``Strict`` refuses them
(``strict decoding error: unknown field "spec.foo"``), ``Warn`` drops them and answers a
``Warning`` header per field (``unknown field "spec.foo"``), ``Ignore`` drops them silently.
A wrong type or a malformed quantity is refused in every mode. Kinds without an official
schema (custom resources) are not decoded here. In-process writes (controllers, seeding),
whose options name no directive, are not decoded either.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from qengine.testing.kube import schemas
from qengine.testing.kube.gofmt import go_quote
from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.schemas import DecodeAbort, go_v
from qengine.testing.kube.status import ApiError, bad_request

if TYPE_CHECKING:
    from qengine.testing.kube.objects import WriteOptions

JSON = dict[str, Any]
DIRECTIVES = ("Ignore", "Strict", "Warn")
APPLY = "application/apply-patch+yaml"
STRATEGIC = "application/strategic-merge-patch+json"
_OPTIONS_KIND = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}


class InternalError(ApiError):
    """An error the real server does not map to a status: 500 with no reason."""

    def body(self) -> JSON:
        """The ``Status`` object, without ``reason`` (the real one leaves it empty)."""
        body = super().body()
        body.pop("reason", None)
        return body


def field_validation(method: str, value: str) -> str:
    """The directive of a write's ``fieldValidation`` query parameter (``Warn`` when absent);
    422 for a value the server does not know, as ``ValidateFieldValidation`` answers."""
    if value in DIRECTIVES:
        return value
    if not value or method not in _OPTIONS_KIND:
        return "Warn"
    allowed = ", ".join(go_quote(v) for v in ("", *DIRECTIVES))
    message = f"Unsupported value: {go_quote(value)}: supported values: {allowed}"
    kind = _OPTIONS_KIND[method]
    raise ApiError(
        422,
        "Invalid",
        f'{kind}.meta.k8s.io "" is invalid: fieldValidation: {message}',
        details={
            "group": "meta.k8s.io",
            "kind": kind,
            "causes": [
                {"reason": "FieldValueNotSupported", "message": message, "field": "fieldValidation"}
            ],
        },
    )


def warning_header(warnings: list[str]) -> dict[str, str]:
    """The ``Warning`` header for a response (RFC 7234 warnings, code 299, joined by commas,
    which Kubernetes clients split), or no header."""
    if not warnings:
        return {}
    quoted = ('299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in warnings)
    return {"Warning": ", ".join(quoted)}


def decode(
    rtype: ResourceType,
    obj: JSON,
    opts: WriteOptions,
    patch_type: str = "",
    patch: bytes = b"",
) -> None:
    """Decode ``obj`` (a request body, a patched object, or an apply configuration when
    ``patch_type`` is the apply type) for a write made with ``opts``.

    Prunes unknown fields in place (``Warn``, ``Ignore``) and adds ``Warn``'s warnings to
    ``opts.warnings``; raises the real server's error otherwise.
    """
    directive = opts.field_validation
    if not directive:
        return
    node = schemas.node_for(rtype.group, rtype.version, rtype.kind)
    if node is None:
        return
    if patch_type == APPLY:
        _decode_apply(rtype, node, obj)
        return
    try:
        found = schemas.decode_json(node, obj)
    except DecodeAbort as exc:
        raise _decode_error(rtype, obj, str(exc), patch_type, patch) from None
    if found.type_error:
        raise _decode_error(rtype, obj, found.type_error, patch_type, patch)
    if not found.unknown:
        return
    unknown = [f"unknown field {go_quote(path)}" for path in found.unknown[:100]]
    if directive != "Strict":
        found.prune()
        if directive == "Warn":
            opts.warnings.extend(unknown)
        return
    strict = "strict decoding error: " + ", ".join(unknown)
    raise _decode_error(rtype, obj, strict, patch_type, patch)


def _decode_error(
    rtype: ResourceType, obj: JSON, error: str, patch_type: str, patch: bytes
) -> ApiError:
    if not patch_type:
        version = str(obj.get("apiVersion") or rtype.api_version).rsplit("/", 1)[-1]
        kind = obj.get("kind") or rtype.kind
        return bad_request(
            f"{kind} in version {go_quote(version)} cannot be handled as a {rtype.kind}: {error}"
        )
    shown = go_v(json.loads(patch or b"{}")) if patch_type == STRATEGIC else _go_json(obj)
    message = f"Invalid value: {go_quote(shown)}: {error}"
    return ApiError(
        422,
        "Invalid",
        f' "" is invalid: patch: {message}',
        details={"causes": [{"reason": "FieldValueInvalid", "message": message, "field": "patch"}]},
    )


def _go_json(obj: JSON) -> str:
    """An object as Go's ``json.Marshal`` of a map writes it (sorted keys, HTML escaped)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _gvk(rtype: ResourceType) -> str:
    return f"{rtype.group}/{rtype.version}, Kind={rtype.kind}"


def _decode_apply(rtype: ResourceType, node: schemas.Node, config: JSON) -> None:
    found = schemas.decode_typed(node, config)
    meta = config.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {_gvk(rtype)}"
    if found.errors:
        errors = found.errors
        text = errors[0] if len(errors) == 1 else "\n  ".join(["errors:", *errors])
        raise InternalError(500, "", f"failed to create typed patch object ({where}): {text}")
    if found.conversion:
        raise InternalError(
            500,
            "",
            f"failed to convert new object ({where}) to proper version: unable to convert "
            f"unstructured object to {_gvk(rtype)}: {found.conversion}",
        )
