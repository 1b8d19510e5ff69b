"""Server-side apply and the field ownership behind ``metadata.managedFields``.

Each stored object carries a :class:`Ownership`: for every (manager, operation, subresource)
the set of fields it owns. An apply takes ownership of exactly the fields in its configuration,
conflicts (409, naming the owning manager and field) where another manager owns a field set to a
different value unless ``force``, and removes fields it owned before but no longer applies
when nobody else owns them. Updates (PUT and the other PATCH types) take the fields they change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs

from qengine.testing.kube.documents import clone
from qengine.testing.kube.fieldsets import (
    Path,
    describe,
    field_set,
    remove_path,
    to_fields_v1,
    value_at,
)
from qengine.testing.kube.patch import strategic_merge
from qengine.testing.kube.status import ApiError

JSON = dict[str, Any]


@attrs.frozen(kw_only=True)
class ManagerKey:
    """Who wrote fields, and how."""

    manager: str
    operation: str  # "Apply" or "Update"
    subresource: str = ""


@attrs.define(kw_only=True)
class Entry:
    """The fields one manager owns, with the API version and time of its last write."""

    fields: set[Path]
    api_version: str
    time: str


@attrs.define
class Ownership:
    """Field ownership of one object (mutable; guarded by the store's lock)."""

    entries: dict[ManagerKey, Entry] = attrs.Factory(dict)

    def copy(self) -> Ownership:
        """A deep copy, so a dry run or failed write leaves the original untouched."""
        return Ownership(
            {
                k: Entry(fields=set(e.fields), api_version=e.api_version, time=e.time)
                for k, e in self.entries.items()
            }
        )

    def render(self) -> list[JSON]:
        """The ``metadata.managedFields`` list."""
        out = []
        for key, entry in self.entries.items():
            item: JSON = {
                "manager": key.manager,
                "operation": key.operation,
                "apiVersion": entry.api_version,
                "time": entry.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(entry.fields),
            }
            if key.subresource:
                item["subresource"] = key.subresource
            out.append(item)
        return out

    def _take(self, key: ManagerKey, fields: set[Path], api_version: str) -> None:
        for other, entry in self.entries.items():
            if other != key:
                entry.fields -= fields
        current = self.entries.get(key)
        merged = fields | (current.fields if current and key.operation == "Update" else set())
        self.entries[key] = Entry(fields=merged, api_version=api_version, time=_now())
        self._prune()

    def _prune(self) -> None:
        for key in [k for k, e in self.entries.items() if not e.fields]:
            del self.entries[key]

    def record_update(self, key: ManagerKey, old: JSON | None, new: JSON, api_version: str) -> None:
        """Give ``key`` the fields that differ between ``old`` and ``new``."""
        status = key.subresource == "status"
        new_fields = _only_status(field_set(new, include_status=status), status)
        if old is None:
            changed = new_fields
        else:
            changed = {p for p in new_fields if value_at(old, p) != value_at(new, p)}
            gone = _only_status(field_set(old, include_status=status), status) - new_fields
            for entry in self.entries.values():
                entry.fields -= gone
        if changed:
            self._take(key, changed, api_version)
        self._prune()

    def apply(
        self, live: JSON | None, config: JSON, manager: str, *, force: bool, subresource: str = ""
    ) -> JSON:
        """Server-side apply ``config`` onto ``live``; returns the new object.

        Raises a 409 Conflict naming the owners when another manager owns a field that
        ``config`` sets to a different value, unless ``force``.
        """
        key = ManagerKey(manager=manager, operation="Apply", subresource=subresource)
        status = subresource == "status"
        applied = _only_status(field_set(config, include_status=status), status)
        base = live or {}
        conflicts = self._conflicts(key, base, config, applied)
        if conflicts and not force:
            raise _conflict_error(conflicts, str(config.get("apiVersion", "")))
        previous = self.entries[key].fields if key in self.entries else set()
        others = set().union(*(e.fields for k, e in self.entries.items() if k != key))
        result = clone(base)
        for path in sorted(previous - applied - others, key=len, reverse=True):
            remove_path(result, path)
        result = dict(strategic_merge(result, config))
        forced = {path for _, _, path in conflicts}
        for other, entry in self.entries.items():
            if other != key:
                entry.fields -= forced
        self.entries[key] = Entry(
            fields=applied, api_version=str(config.get("apiVersion", "")), time=_now()
        )
        self._prune()
        return result

    def _conflicts(
        self, key: ManagerKey, live: JSON, config: JSON, applied: set[Path]
    ) -> list[tuple[str, str, Path]]:
        found = []
        for other, entry in self.entries.items():
            if other == key:
                continue
            for path in entry.fields & applied:
                if path[-1] != "." and value_at(live, path) != value_at(config, path):
                    found.append((other.manager, entry.api_version, path))
        return sorted(found)


def _only_status(fields: set[Path], status: bool) -> set[Path]:
    if status:
        return {p for p in fields if p[0] == "f:status"}
    return fields


def _conflict_error(conflicts: list[tuple[str, str, Path]], api_version: str) -> ApiError:
    count = len(conflicts)
    lines = [f'conflict with "{m}" using {v}: {describe(p)}' for m, v, p in conflicts]
    plural = "conflict" if count == 1 else "conflicts"
    message = f"Apply failed with {count} {plural}: " + "\n".join(lines)
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{m}" using {v}',
            "field": describe(p),
        }
        for m, v, p in conflicts
    ]
    return ApiError(409, "Conflict", message, details={"causes": causes})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
