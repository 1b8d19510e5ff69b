"""The plugin API: everything a qengine plugin needs, in one public module.

A plugin is a distribution with a ``qengine`` entry point naming a module of hook
implementations (``@hookimpl``, see :mod:`qengine.hookspecs`). Its ``qengine_register`` hook
registers, for each kind it provides, the attrs class of its spec section and a factory that
builds the interface the engine drives::

    from qengine.plugin import EnvEngine, JobServices, Registry, Step, hookimpl

    class LocalEngine(EnvEngine):
        def __init__(self, section: LocalTarget, services: JobServices) -> None: ...
        def deploy(self, job: EnvironmentJob) -> list[Step]: ...
        ...

    @hookimpl
    def qengine_register(registry: Registry) -> None:
        registry.add_target("local", LocalTarget, LocalEngine, "services as local processes")

The engine calls the factory when a job needs that kind, asks the interface for the steps of
the job's action, and runs them (journalled, locked, cancellable, rolled back on failure).
Plugins import from here (and from the public modules :mod:`qengine.spec`,
:mod:`qengine.runner`, :mod:`qengine.terraform`, :mod:`qengine.secrets`,
:mod:`qengine.testing`), never from a ``qengine._private`` module; a lint rule enforces it for
the first-party plugins. Only the errors, the registry and ``hookimpl`` are imported with this
module; every other name (the interfaces, the sandbox session, the runner's steps, the security
core) is imported on first use, so a plugin module that imports this one to register stays
cheap to load.
"""

from __future__ import annotations

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
from qengine._lazy import lazy_names as _lazy_names
from qengine._registry import Registration, Registry
from qengine.hookspecs import hookimpl

__all__ = [
    "AuthError",
    "BuildBackend",
    "BuildError",
    "BuildRequest",
    "BuiltImage",
    "CancelToken",
    "CancelledError",
    "Change",
    "ChangeAction",
    "ClusterAccess",
    "ConflictError",
    "ContainerRegistry",
    "DeploymentError",
    "DnsProvider",
    "DnsRecord",
    "EnvEngine",
    "InfraEngine",
    "InfrastructureError",
    "InvalidInputError",
    "JobRefusedError",
    "JobSecrets",
    "JobServices",
    "KeyProvider",
    "LeaseObjectStore",
    "ObjectLease",
    "PluginError",
    "PullSecret",
    "QengineError",
    "QuotaError",
    "ReconcileResult",
    "ReconcileVerdict",
    "Registration",
    "Registry",
    "RegistryCredentials",
    "RetryNotice",
    "RetryPolicy",
    "SANDBOX_CLUSTER",
    "SandboxCluster",
    "SandboxSession",
    "Scratch",
    "ScratchKey",
    "SecretError",
    "SecretValue",
    "SessionKey",
    "SpecError",
    "SpecIssue",
    "Step",
    "StepContext",
    "StepEmitter",
    "TargetLease",
    "TargetLockedError",
    "TransientError",
    "WrappedKey",
    "hookimpl",
]

if TYPE_CHECKING:
    from qengine._job_secrets import JobSecrets
    from qengine._services import JobServices
    from qengine._session import SANDBOX_CLUSTER, SandboxCluster, SandboxSession, SessionKey
    from qengine.interfaces import (
        BuildBackend,
        BuildRequest,
        BuiltImage,
        CancelToken,
        ClusterAccess,
        ContainerRegistry,
        DnsProvider,
        DnsRecord,
        EnvEngine,
        InfraEngine,
        KeyProvider,
        PullSecret,
        RegistryCredentials,
        TargetLease,
        WrappedKey,
    )
    from qengine.objectlease import LeaseObjectStore, ObjectLease
    from qengine.retry import RetryNotice, RetryPolicy
    from qengine.runner.steps import (
        Change,
        ChangeAction,
        ReconcileResult,
        ReconcileVerdict,
        Scratch,
        ScratchKey,
        Step,
        StepContext,
        StepEmitter,
    )
    from qengine.secrets.value import SecretValue

_STEPS = "qengine.runner.steps"
_SESSION = "qengine._session"
_INTERFACES = "qengine.interfaces"
_LAZY = {
    "BuildBackend": _INTERFACES,
    "BuildRequest": _INTERFACES,
    "BuiltImage": _INTERFACES,
    "CancelToken": _INTERFACES,
    "ClusterAccess": _INTERFACES,
    "ContainerRegistry": _INTERFACES,
    "DnsProvider": _INTERFACES,
    "DnsRecord": _INTERFACES,
    "EnvEngine": _INTERFACES,
    "InfraEngine": _INTERFACES,
    "KeyProvider": _INTERFACES,
    "PullSecret": _INTERFACES,
    "RegistryCredentials": _INTERFACES,
    "SANDBOX_CLUSTER": _SESSION,
    "SandboxCluster": _SESSION,
    "SandboxSession": _SESSION,
    "SessionKey": _SESSION,
    "TargetLease": _INTERFACES,
    "WrappedKey": _INTERFACES,
    "Change": _STEPS,
    "ChangeAction": _STEPS,
    "JobSecrets": "qengine._job_secrets",
    "JobServices": "qengine._services",
    "LeaseObjectStore": "qengine.objectlease",
    "ObjectLease": "qengine.objectlease",
    "ReconcileResult": _STEPS,
    "ReconcileVerdict": _STEPS,
    "RetryNotice": "qengine.retry",
    "RetryPolicy": "qengine.retry",
    "Scratch": _STEPS,
    "ScratchKey": _STEPS,
    "SecretValue": "qengine.secrets.value",
    "Step": _STEPS,
    "StepContext": _STEPS,
    "StepEmitter": _STEPS,
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY)
