"""The destructive-change guard: a plan may not destroy protected resources by accident.

It reads the typed plan (from ``terraform show -json``), never the human rendering. A plan
that deletes or replaces a resource of a protected type is refused before ``apply`` unless the
plan is a destroy plan (the job's action is delete) or the job explicitly allows destructive
changes. Replacement counts as destruction: a replaced EKS cluster or KMS key loses its data
just as a deleted one does.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from qengine._errors import InvalidInputError
from qengine.terraform.plan import Plan, PlannedChange

DEFAULT_PROTECTED_TYPES: frozenset[str] = frozenset(
    {
        # AWS: clusters, node groups, state storage, keys, databases
        "aws_eks_cluster",
        "aws_eks_node_group",
        "aws_s3_bucket",
        "aws_dynamodb_table",
        "aws_kms_key",
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_rds_cluster_instance",
        "aws_elasticache_replication_group",
        # Google Cloud
        "google_container_cluster",
        "google_container_node_pool",
        "google_storage_bucket",
        "google_kms_crypto_key",
        "google_kms_key_ring",
        "google_sql_database_instance",
        # Azure
        "azurerm_kubernetes_cluster",
        "azurerm_kubernetes_cluster_node_pool",
        "azurerm_storage_account",
        "azurerm_key_vault",
        "azurerm_key_vault_key",
        "azurerm_postgresql_flexible_server",
        "azurerm_mysql_flexible_server",
        "azurerm_mssql_server",
    }
)


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

    ``protected_types`` defaults to :data:`DEFAULT_PROTECTED_TYPES`; callers usually add
    their own with :meth:`protecting`.
    """

    protected_types: frozenset[str] = DEFAULT_PROTECTED_TYPES
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
