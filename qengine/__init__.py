"""qengine: an embeddable deployment engine.

The public API is exactly what ``__all__`` lists; everything else is private.
"""

from qengine._errors import (
    AuthError,
    BuildError,
    CancelledError,
    ConflictError,
    DeploymentError,
    InfrastructureError,
    InvalidInputError,
    JobRefusedError,
    PluginError,
    QengineError,
    QuotaError,
    SecretError,
    SpecError,
    SpecIssue,
    TargetLockedError,
    TransientError,
)
from qengine._events import Event, EventType
from qengine._plugins import PluginInfo, PluginSet, Registration, Registry, load_plugins
from qengine._version import __version__
from qengine.hookspecs import hookimpl

__all__ = [
    "AuthError",
    "BuildError",
    "CancelledError",
    "ConflictError",
    "DeploymentError",
    "Event",
    "EventType",
    "InfrastructureError",
    "InvalidInputError",
    "JobRefusedError",
    "PluginError",
    "PluginInfo",
    "PluginSet",
    "QengineError",
    "QuotaError",
    "Registration",
    "Registry",
    "SecretError",
    "SpecError",
    "SpecIssue",
    "TargetLockedError",
    "TransientError",
    "__version__",
    "hookimpl",
    "load_plugins",
]
