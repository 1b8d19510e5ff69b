"""Label and field selectors as the API server parses them.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k`` (exists)
and ``!k`` (does not exist), comma-separated (all must hold). Field selectors: ``=``, ``==`` and
``!=`` over ``metadata.name``, ``metadata.namespace`` and a few per-kind fields such as
``status.phase`` and ``spec.nodeName``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from qengine.testing.kube.status import bad_request

Predicate = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")
# Field selector values may hold slashes and colons (``involvedObject.apiVersion=apps/v1``).
_FIELD_RE = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|!=|=)\s*([^,]*?)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*$")

FIELD_PATHS = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
    "status.phase": ("status", "phase"),
    "spec.nodeName": ("spec", "nodeName"),
    "spec.restartPolicy": ("spec", "restartPolicy"),
    "spec.schedulerName": ("spec", "schedulerName"),
    "status.podIP": ("status", "podIP"),
    "involvedObject.name": ("involvedObject", "name"),
    "involvedObject.kind": ("involvedObject", "kind"),
    "involvedObject.namespace": ("involvedObject", "namespace"),
    "involvedObject.uid": ("involvedObject", "uid"),
    "involvedObject.apiVersion": ("involvedObject", "apiVersion"),
    "involvedObject.resourceVersion": ("involvedObject", "resourceVersion"),
    "involvedObject.fieldPath": ("involvedObject", "fieldPath"),
    "source": ("source", "component"),
    "reportingComponent": ("reportingComponent",),
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
    "status.nominatedNodeName": ("status", "nominatedNodeName"),
    "type": ("type",),
    "reason": ("reason",),
}


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Callable[[dict[str, str]], bool]:
    if match := _SET_RE.match(term):
        key, op, raw = match.groups()
        values = {v.strip() for v in raw.split(",") if v.strip()}
        return _member(key, values, op == "in")
    if match := _EQ_RE.match(term):
        key, op, value = match.groups()
        return _member(key, {value}, op != "!=")
    if match := _EXISTS_RE.match(term):
        negate, key = match.groups()
        return _exists(key, not negate)
    raise bad_request(f"unable to parse requirement: {term.strip()!r}")


def _member(key: str, values: set[str], inside: bool) -> Callable[[dict[str, str]], bool]:
    def check(labels: dict[str, str]) -> bool:
        return (labels.get(key) in values) == inside

    return check


def _exists(key: str, wanted: bool) -> Callable[[dict[str, str]], bool]:
    def check(labels: dict[str, str]) -> bool:
        return (key in labels) == wanted

    return check


def label_selector(text: str | None) -> Predicate:
    """A predicate over objects for a label selector string; empty matches everything."""
    if not text:
        return lambda obj: True
    terms = [_label_term(t) for t in _split_terms(text)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(term(labels) for term in terms)

    return matches


def _expression(expr: dict[str, Any], labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator"), expr.get("values") or []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def match_labels(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether ``labels`` satisfy a structured LabelSelector (matchLabels/matchExpressions)."""
    if not selector:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(_expression(e, labels) for e in selector.get("matchExpressions") or [])


def selector_string(selector: dict[str, Any] | None) -> str:
    """The string form of a structured LabelSelector (for the scale subresource)."""
    parts = [f"{k}={v}" for k, v in sorted((selector or {}).get("matchLabels", {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op, key = expr.get("operator"), expr.get("key")
        vals = ",".join(expr.get("values") or [])
        parts.append(
            {
                "In": f"{key} in ({vals})",
                "NotIn": f"{key} notin ({vals})",
                "Exists": f"{key}",
                "DoesNotExist": f"!{key}",
            }.get(str(op), "")
        )
    return ",".join(p for p in parts if p)


def _field_value(obj: dict[str, Any], path: tuple[str, ...]) -> str:
    value: Any = obj
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _field_check(path: tuple[str, ...], value: str, equal: bool) -> Predicate:
    def check(obj: dict[str, Any]) -> bool:
        return (_field_value(obj, path) == value) == equal

    return check


def field_selector(text: str | None) -> Predicate:
    """A predicate over objects for a field selector string; empty matches everything."""
    if not text:
        return lambda obj: True
    checks: list[Predicate] = []
    for term in _split_terms(text):
        match = _FIELD_RE.match(term)
        if not match or match.group(1) not in FIELD_PATHS:
            raise bad_request(f'"{term.strip()}" is not a known field selector')
        field, op, value = match.groups()
        checks.append(_field_check(FIELD_PATHS[field], value, op != "!="))
    return lambda obj: all(check(obj) for check in checks)
