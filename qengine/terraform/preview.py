"""Terraform's own plan as a ``qengine plan`` preview: each resource's verdict and fields.

:func:`preview_plan` runs ``terraform plan`` (``-detailed-exitcode``, into a plan file) and
reads the plan back with ``terraform show -json``: each managed resource change becomes an
:class:`~qengine.runner.plan.ObjectDiff` (kind: the resource type; name: its address), an
update with the attributes that change. A value Terraform marks sensitive is shown as
``(secret)``, one it only knows after the apply as ``(known after apply)``; values are
redacted with the job's redactor too. Nothing is applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from qengine.runner.plan import SECRET, FieldDiff, ObjectDiff, Verdict
from qengine.terraform.driver import Terraform
from qengine.terraform.errors import MalformedOutputError

__all__ = ["UNKNOWN_VALUE", "plan_diffs", "preview_plan", "without_backend"]

UNKNOWN_VALUE = "(known after apply)"
_WIDTH = 60
_VERDICTS: dict[tuple[str, ...], Verdict] = {
    ("create",): Verdict.CREATE,
    ("update",): Verdict.UPDATE,
    ("delete",): Verdict.DELETE,
    ("no-op",): Verdict.UNCHANGED,
    ("read",): Verdict.UNCHANGED,
}


def preview_plan(tf: Terraform, *, destroy: bool = False) -> tuple[ObjectDiff, ...]:
    """Plan with ``tf`` (initialised) and return what the plan would do to each resource."""
    plan = tf.plan(out="preview.tfplan", destroy=destroy)
    completed = tf._run_text("show", ["show", "-json", "-no-color", str(plan.path)])
    return plan_diffs("\n".join(completed.stdout), redact=tf.redact)


def without_backend(module: Mapping[str, Any]) -> dict[str, Any]:
    """``module`` without its ``backend`` block: planned on an empty local state, as a plan of
    a cluster whose state backend does not exist yet is."""
    out = dict(module)
    settings = out.get("terraform")
    if isinstance(settings, Mapping):
        out["terraform"] = {k: v for k, v in settings.items() if k != "backend"}
    elif isinstance(settings, list):
        out["terraform"] = [
            {k: v for k, v in block.items() if k != "backend"}
            for block in settings
            if isinstance(block, Mapping)
        ]
    return out


def plan_diffs(text: str, *, redact: Callable[[str], str] = str) -> tuple[ObjectDiff, ...]:
    """The resource changes of a ``terraform show -json PLANFILE`` document."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise MalformedOutputError("terraform show -json did not print JSON") from exc
    if not isinstance(document, dict):
        raise MalformedOutputError("terraform show -json did not print a plan document")
    # Terraform's marks do not follow a value everywhere (terraform_data's output echoes a
    # sensitive input unmarked): a value marked sensitive anywhere is hidden everywhere.
    hidden = _sensitive_values(document)
    guarded = _hiding(hidden, redact)
    out: list[ObjectDiff] = []
    for entry in document.get("resource_changes") or []:
        if not isinstance(entry, dict) or entry.get("mode", "managed") != "managed":
            continue
        change = entry.get("change") or {}
        actions = tuple(str(a) for a in change.get("actions") or ())
        kind, address = str(entry.get("type", "")), str(entry.get("address", ""))
        replace = frozenset(actions) == {"create", "delete"}
        verdict = Verdict.UPDATE if replace else _VERDICTS.get(actions)
        if verdict is None:
            continue  # forget, or what this version of the preview does not know
        fields: tuple[FieldDiff, ...] = ()
        if verdict is Verdict.UPDATE:
            fields = tuple(_fields(change, guarded))
        note = "replaced: destroyed and created again" if replace else ""
        out.append(ObjectDiff(action=verdict, kind=kind, name=address, fields=fields, note=note))
    return tuple(out)


def _sensitive_values(document: dict[str, Any]) -> set[str]:
    """Every value (as JSON text and, for strings, as is) that the plan marks sensitive."""
    found: set[str] = set()

    def collect(value: Any, marks: Any) -> None:
        if marks is True:
            for leaf in _leaves(value):
                found.add(json.dumps(leaf))
                if isinstance(leaf, str):
                    found.add(leaf)
            return
        if isinstance(value, dict) and isinstance(marks, dict):
            for key, item in value.items():
                collect(item, marks.get(key))
        elif isinstance(value, list) and isinstance(marks, list):
            for item, mark in zip(value, marks, strict=False):
                collect(item, mark)

    for entry in document.get("resource_changes") or []:
        change = entry.get("change") if isinstance(entry, dict) else None
        if isinstance(change, dict):
            collect(change.get("before"), change.get("before_sensitive"))
            collect(change.get("after"), change.get("after_sensitive"))
    config = (document.get("configuration") or {}).get("root_module") or {}
    values = document.get("variables") or {}
    for name, declared in (config.get("variables") or {}).items():
        if isinstance(declared, dict) and declared.get("sensitive"):
            collect((values.get(name) or {}).get("value"), True)
    return {text for text in found if text not in ("", '""', "null", "true", "false")}


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _hiding(hidden: set[str], redact: Callable[[str], str]) -> Callable[[str], str]:
    """``redact``, and a text holding a value marked sensitive becomes ``(secret)``."""

    def guarded(text: str) -> str:
        if any(value in text for value in hidden):
            return SECRET
        return redact(text)

    return guarded


def _fields(change: dict[str, Any], redact: Callable[[str], str]) -> list[FieldDiff]:
    before, after = change.get("before"), change.get("after")
    marks = _Marks(
        change.get("before_sensitive"), change.get("after_sensitive"), change.get("after_unknown")
    )
    diffs: list[FieldDiff] = []
    _walk(before, after, "", marks, diffs, redact)
    return diffs


class _Marks:
    """Terraform's sensitivity and unknown-value markers, walked alongside the values."""

    def __init__(self, before_sensitive: Any, after_sensitive: Any, after_unknown: Any) -> None:
        self.before_sensitive = before_sensitive
        self.after_sensitive = after_sensitive
        self.after_unknown = after_unknown

    def child(self, key: str | int) -> _Marks:
        return _Marks(
            _sub(self.before_sensitive, key),
            _sub(self.after_sensitive, key),
            _sub(self.after_unknown, key),
        )


def _sub(marks: Any, key: str | int) -> Any:
    if marks is True:
        return True
    if isinstance(marks, dict) and isinstance(key, str):
        return marks.get(key)
    if isinstance(marks, list) and isinstance(key, int) and key < len(marks):
        return marks[key]
    return None


def _walk(
    before: Any,
    after: Any,
    path: str,
    marks: _Marks,
    out: list[FieldDiff],
    redact: Callable[[str], str],
) -> None:
    if marks.after_unknown is True:
        out.append(
            FieldDiff(
                path=path,
                before=_shown(before, marks.before_sensitive, redact),
                after=UNKNOWN_VALUE,
            )
        )
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after) | _keys(marks.after_unknown)):
            sub = f"{path}.{key}" if path else str(key)
            _walk(before.get(key), after.get(key), sub, marks.child(key), out, redact)
        return
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            _walk(old, new, f"{path}[{index}]", marks.child(index), out, redact)
        return
    secret = marks.before_sensitive is True or marks.after_sensitive is True
    if before == after and not (secret and marks.before_sensitive != marks.after_sensitive):
        return
    out.append(
        FieldDiff(
            path=path,
            before=_shown(before, marks.before_sensitive, redact),
            after=_shown(after, marks.after_sensitive, redact),
        )
    )


def _keys(marks: Any) -> set[str]:
    return {k for k, v in marks.items() if v is True} if isinstance(marks, dict) else set()


def _shown(value: Any, sensitive: Any, redact: Callable[[str], str]) -> str | None:
    if value is None:
        return None
    if _any_sensitive(sensitive):
        return SECRET
    text = redact(json.dumps(value, sort_keys=True, separators=(",", ":")))
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _any_sensitive(marks: Any) -> bool:
    if marks is True:
        return True
    if isinstance(marks, dict):
        return any(_any_sensitive(v) for v in marks.values())
    if isinstance(marks, list):
        return any(_any_sensitive(v) for v in marks)
    return False
