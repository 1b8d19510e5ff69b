"""Rendering an environment to Kubernetes objects, as plain JSON data (never YAML templates).

One module per service kind (``workload``, ``database``, ``job``, ``router``), the
environment's own objects in ``namespace``, and shared ``labels``, ``names`` and ``pod``.
Rendering needs no Kubernetes SDK.
"""

from qengine_kubernetes.render.context import Manifest, OpenSecret
from qengine_kubernetes.render.environment import (
    RenderedEnvironment,
    RenderedService,
    canonical_json,
    render_environment,
    render_service,
)

__all__ = [
    "Manifest",
    "OpenSecret",
    "RenderedEnvironment",
    "RenderedService",
    "canonical_json",
    "render_environment",
    "render_service",
]
