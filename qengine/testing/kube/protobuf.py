"""Decoding the Kubernetes protobuf encoding, for the few kinds clients send that way.

Typed Go clients (client-go 0.32+, so kubectl 1.32+ ``create`` and Helm 3.17's release
storage) send request bodies as ``application/vnd.kubernetes.protobuf``: the bytes
``k8s\\x00`` and a ``runtime.Unknown`` envelope carrying the apiVersion, kind and the object's
own protobuf bytes. This module decodes that for Secrets, ConfigMaps, Namespaces and
DeleteOptions into the same JSON the other clients send; other kinds get 415, as a server
without their schema would answer. Responses are always JSON (these clients accept it).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from qengine.testing.kube.status import ApiError

JSON = dict[str, Any]
MAGIC = b"k8s\x00"
# A schema maps a field number to (JSON name, kind); kinds: "string", "bytes", "int",
# "bool", "strings" (repeated string), "map" (string to string), "bytesmap" (string to
# base64), or a nested schema (a dict), or ("list", schema) for a repeated message.
Schema = dict[int, tuple[str, Any]]

OWNER_REFERENCE: Schema = {
    1: ("kind", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
OBJECT_META: Schema = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int"),
    11: ("labels", "map"),
    12: ("annotations", "map"),
    13: ("ownerReferences", ("list", OWNER_REFERENCE)),
    14: ("finalizers", "strings"),
}
KINDS: dict[str, Schema] = {
    "Secret": {
        1: ("metadata", OBJECT_META),
        2: ("data", "bytesmap"),
        3: ("type", "string"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "ConfigMap": {
        1: ("metadata", OBJECT_META),
        2: ("data", "map"),
        3: ("binaryData", "bytesmap"),
        4: ("immutable", "bool"),
    },
    "Namespace": {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("finalizers", "strings")}),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int"),
        2: ("preconditions", {1: ("uid", "string"), 2: ("resourceVersion", "string")}),
        3: ("orphanDependents", "bool"),
        4: ("propagationPolicy", "string"),
        5: ("dryRun", "strings"),
    },
}
_ENVELOPE: Schema = {
    1: ("typeMeta", {1: ("apiVersion", "string"), 2: ("kind", "string")}),
    2: ("raw", "raw"),
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs; length-delimited values are bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield number, data[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _map_entry(raw: bytes) -> tuple[str, bytes]:
    entry = {number: value for number, value in _fields(raw)}
    key, value = entry.get(1, b""), entry.get(2, b"")
    if not isinstance(key, bytes) or not isinstance(value, bytes):
        raise ValueError("malformed map entry")
    return key.decode(), value


def _put(out: JSON, name: str, kind: Any, value: int | bytes) -> None:
    if isinstance(value, int):
        out[name] = bool(value) if kind == "bool" else value
        return
    if kind in ("string", "raw", "bytes"):
        # proto2 writes unset optional strings as empty ones; JSON clients leave them out.
        if value or kind == "raw":
            out[name] = value if kind == "raw" else value.decode()
    elif kind == "strings":
        out.setdefault(name, []).append(value.decode())
    elif kind in ("map", "bytesmap"):
        key, item = _map_entry(value)
        text = base64.b64encode(item).decode() if kind == "bytesmap" else item.decode()
        out.setdefault(name, {})[key] = text
    elif isinstance(kind, tuple):
        out.setdefault(name, []).append(decode_message(value, kind[1]))
    elif isinstance(kind, dict):
        out[name] = decode_message(value, kind)


def decode_message(data: bytes, schema: Schema) -> JSON:
    """Decode one protobuf message by ``schema`` (unknown fields are skipped)."""
    out: JSON = {}
    for number, value in _fields(data):
        if number in schema:
            name, kind = schema[number]
            _put(out, name, kind, value)
    return out


def decode_object(body: bytes) -> JSON:
    """The JSON form of a protobuf-encoded request body; 415 for kinds not decoded here."""
    if not body.startswith(MAGIC):
        raise _unsupported("the body does not start with the Kubernetes protobuf prefix")
    try:
        envelope = decode_message(body[len(MAGIC) :], _ENVELOPE)
        type_meta = envelope.get("typeMeta", {})
        kind = str(type_meta.get("kind", ""))
        if kind not in KINDS:
            raise _unsupported(f"protobuf bodies of kind {kind or '(none)'} are not decoded")
        obj = decode_message(envelope.get("raw", b""), KINDS[kind])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"the protobuf body could not be decoded: {exc}") from exc
    if kind != "DeleteOptions":
        obj = {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind, **obj}
    return obj


def _unsupported(why: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"{why}; send application/json (the simulator decodes protobuf only for Secret, "
        "ConfigMap, Namespace and DeleteOptions)",
    )
