"""The destructive-change guard: a plan may not destroy protected resources by accident.

It reads the typed plan (from ``terraform show -json``), never the human rendering. A plan
that deletes or replaces a resource of a protected type is refused before ``apply`` unless the
plan is a destroy plan (the job's action is delete) or the job explicitly allows destructive
changes. Replacement counts as destruction: a replaced cluster or key loses its data just as
a deleted one does.

The core knows no cloud, so it protects no type by itself: each cloud plugin names the resource
types of its cloud that hold a cluster, state, keys or data (``guard.protecting([...])``).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from qengine._errors import InvalidInputError
from qengine.terraform.plan import Plan, PlannedChange


class DestructiveChangeError(InvalidInputError):
    """A plan would delete or replace protected resources; nothing was applied.

    ``addresses`` lists the resources concerned, in plan order.
    """

    def __init__(self, changes: Iterable[PlannedChange]) -> None:
        changes = tuple(changes)
        self.addresses = tuple(change.address for change in changes)
        listing = "\n".join(f"  {_verb(c)} {c.address}" for c in changes)
        super().__init__(
            f"the plan would destroy {len(self.addresses)} protected resource(s):\n{listing}",
            hint=(
                "Nothing was applied. If this is intended, run the job again with destructive"
                " changes explicitly allowed, or use the delete action; otherwise change the"
                " input that forces the replacement."
            ),
        )


@attrs.frozen(kw_only=True)
class DestructiveGuard:
    """Which resource types are protected, and whether destroying them is allowed anyway.

    ``protected_types`` is empty by default: a cloud plugin adds its cloud's types with
    :meth:`protecting`.
    """

    protected_types: frozenset[str] = frozenset()
    allow_destructive: bool = False

    def protecting(self, types: Iterable[str]) -> DestructiveGuard:
        """A guard protecting ``types`` as well."""
        return attrs.evolve(self, protected_types=self.protected_types | frozenset(types))

    def offending(self, plan: Plan) -> tuple[PlannedChange, ...]:
        """The changes that destroy a protected resource, whatever is allowed."""
        return tuple(c for c in plan.destructive if c.type in self.protected_types)

    def check(self, plan: Plan, *, destroying: bool) -> None:
        """Raise :class:`DestructiveChangeError` unless ``plan`` may be applied.

        ``destroying`` is True for a destroy plan (the job's action is delete); such a plan,
        and any plan when ``allow_destructive`` is set, always passes.
        """
        if destroying or self.allow_destructive:
            return
        offending = self.offending(plan)
        if offending:
            raise DestructiveChangeError(offending)


def _verb(change: PlannedChange) -> str:
    return "replace" if change.is_replace else "delete"
