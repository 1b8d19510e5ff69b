"""The ``azure`` cloud provider's :class:`~qengine.plugin.InfraEngine`.

The AKS lifecycle (Terraform on the azurerm backend, stop/start pause) is not built yet:
planning an Azure job is refused with a :class:`~qengine.plugin.PluginError` that says so,
before anything runs. docs/azure.md lists what is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from qengine.plugin import InfraEngine, PluginError
from qengine.spec import InfrastructureJob
from qengine_azure.spec import AzureProvider

if TYPE_CHECKING:
    from qengine.plugin import JobServices, Step


class AksInfraEngine(InfraEngine):
    """AKS clusters (not runnable yet: every action is refused at plan time)."""

    def __init__(self, section: AzureProvider, services: JobServices) -> None:
        self.section = section
        self._services = services

    def create(self, job: InfrastructureJob) -> Sequence[Step]:
        """Refused: not built yet."""
        raise self._not_built(job)

    def upgrade(self, job: InfrastructureJob) -> Sequence[Step]:
        """Refused: not built yet."""
        raise self._not_built(job)

    def pause(self, job: InfrastructureJob) -> Sequence[Step]:
        """Refused: not built yet."""
        raise self._not_built(job)

    def resume(self, job: InfrastructureJob) -> Sequence[Step]:
        """Refused: not built yet."""
        raise self._not_built(job)

    def delete(self, job: InfrastructureJob) -> Sequence[Step]:
        """Refused: not built yet."""
        raise self._not_built(job)

    def _not_built(self, job: InfrastructureJob) -> PluginError:
        return PluginError(
            f"the azure plugin cannot {job.action} an AKS cluster yet: only its spec section "
            "and offline checks are built",
            hint="See docs/azure.md for what the Azure plugin does today.",
        )
