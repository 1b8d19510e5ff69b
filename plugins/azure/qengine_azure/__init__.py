"""qengine-azure: AKS clusters through Terraform, state in the user's own storage account."""

from __future__ import annotations

__all__: list[str] = []
