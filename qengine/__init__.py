"""qengine: an embeddable deployment engine.

The public API is exactly what ``__all__`` lists; everything else is private. The engine and
its secrets (which pull in the runner, the security core and cryptography) are imported on
first use, so that validating a job stays cheap.
"""

from typing import TYPE_CHECKING

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
from qengine._lazy import lazy_names as _lazy_names
from qengine._plugins import PluginInfo, PluginSet, load_plugins
from qengine._registry import Registration, Registry
from qengine._version import __version__
from qengine.hookspecs import hookimpl

__all__ = [
    "AcceptedJob",
    "AuthError",
    "BuildError",
    "CancelledError",
    "ConflictError",
    "DeploymentError",
    "Engine",
    "Event",
    "EventType",
    "InfrastructureError",
    "InvalidInputError",
    "JobRefusedError",
    "JobSecrets",
    "JobServices",
    "PluginError",
    "PluginInfo",
    "PluginSet",
    "QengineError",
    "QuotaError",
    "Registration",
    "Registry",
    "SandboxSession",
    "SecretError",
    "SpecError",
    "SpecIssue",
    "TargetLockedError",
    "TransientError",
    "Trust",
    "__version__",
    "hookimpl",
    "load_plugins",
]

if TYPE_CHECKING:
    from qengine._engine import AcceptedJob, Engine, Trust
    from qengine._job_secrets import JobSecrets
    from qengine._services import JobServices
    from qengine._session import SandboxSession

_LAZY = {
    "AcceptedJob": "qengine._engine",
    "Engine": "qengine._engine",
    "JobSecrets": "qengine._job_secrets",
    "JobServices": "qengine._services",
    "SandboxSession": "qengine._session",
    "Trust": "qengine._engine",
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY)
