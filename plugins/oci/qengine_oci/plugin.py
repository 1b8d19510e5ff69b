"""Hook implementations of qengine-oci (registration only).

The factory returns :class:`~qengine_oci.registry.OciContainerRegistry`; a host builds it
with the job's ``OciRegistry`` section and the opened password secret.
"""

from __future__ import annotations

import importlib

from qengine import hookimpl
from qengine._plugins import Registry
from qengine_oci.spec import OciRegistry


def _registry_class() -> object:
    return importlib.import_module("qengine_oci.registry").OciContainerRegistry


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``oci`` container registry kind."""
    registry.add_registry(
        "oci", OciRegistry, _registry_class, "any OCI Distribution registry (basic or token auth)"
    )
