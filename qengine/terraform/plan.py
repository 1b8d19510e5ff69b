"""Typed resource changes read from ``terraform show -json PLANFILE``.

Only what decisions need is kept (address, type, name, actions): the plan's before/after
values may hold secrets and are never copied out of the document.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from qengine.terraform.errors import MalformedOutputError

_REPLACE = frozenset({"create", "delete"})


@attrs.frozen(kw_only=True)
class PlanFile:
    """A saved plan: its path, whether it is a destroy plan, and whether it changes anything."""

    path: Path
    destroy: bool
    has_changes: bool


@attrs.frozen(kw_only=True)
class PlannedChange:
    """One managed resource's planned change, as Terraform reports it.

    ``actions`` is Terraform's list: ``("no-op",)``, ``("create",)``, ``("update",)``,
    ``("delete",)``, ``("delete", "create")`` or ``("create", "delete")`` for a replacement
    (destroy first, or create before destroy), ``("read",)``, ``("forget",)``.
    """

    address: str
    type: str
    name: str
    actions: tuple[str, ...]

    @property
    def is_delete(self) -> bool:
        """The resource is destroyed and not recreated."""
        return self.actions == ("delete",)

    @property
    def is_replace(self) -> bool:
        """The resource is destroyed and created again (in either order)."""
        return frozenset(self.actions) == _REPLACE

    @property
    def is_noop(self) -> bool:
        return self.actions in {("no-op",), ("read",)}


@attrs.frozen(kw_only=True)
class Plan:
    """The managed-resource changes of a saved plan (data sources are left out)."""

    changes: tuple[PlannedChange, ...]

    @property
    def has_changes(self) -> bool:
        return any(not change.is_noop for change in self.changes)

    @property
    def destructive(self) -> tuple[PlannedChange, ...]:
        """Changes that destroy a resource: deletions and replacements."""
        return tuple(c for c in self.changes if c.is_delete or c.is_replace)


def parse_plan(text: str) -> Plan:
    """Parse the document ``terraform show -json PLANFILE`` printed."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise MalformedOutputError("terraform show -json did not print JSON") from exc
    if not isinstance(document, dict) or "format_version" not in document:
        raise MalformedOutputError("terraform show -json did not print a plan document")
    raw_changes = document.get("resource_changes") or []
    if not isinstance(raw_changes, list):
        raise MalformedOutputError("the plan's resource_changes is not a list")
    return Plan(changes=tuple(c for c in map(_change, raw_changes) if c is not None))


def _change(entry: object) -> PlannedChange | None:
    if not isinstance(entry, dict) or entry.get("mode", "managed") != "managed":
        return None
    change = entry.get("change")
    actions = change.get("actions") if isinstance(change, dict) else None
    if not isinstance(actions, list):
        raise MalformedOutputError(f"no actions for {entry.get('address')!r} in the plan")
    return PlannedChange(
        address=str(entry["address"]),
        type=str(entry["type"]),
        name=str(entry["name"]),
        actions=tuple(str(action) for action in actions),
    )
