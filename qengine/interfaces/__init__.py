"""Abstract interfaces between the core and plugins.

Each interface lives in a module of its own, named by concept. Plugin authors implement them;
the core calls them. Every abstract method states its pre- and postconditions.
"""

from qengine.interfaces.audit import AuditRecord, AuditSink
from qengine.interfaces.build import BuildBackend, BuildRequest, BuiltImage
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.cloud import ClusterAccess, InfraEngine
from qengine.interfaces.dns import DnsProvider, DnsRecord
from qengine.interfaces.env import EnvEngine
from qengine.interfaces.events import EventSink
from qengine.interfaces.keys import KeyProvider, WrappedKey
from qengine.interfaces.lease import TargetLease
from qengine.interfaces.registry import ContainerRegistry, PullSecret, RegistryCredentials
from qengine.interfaces.state import LockHolder, StateStore, StepRecord, StepState

__all__ = [
    "AuditRecord",
    "AuditSink",
    "BuildBackend",
    "BuildRequest",
    "BuiltImage",
    "CancelToken",
    "ClusterAccess",
    "ContainerRegistry",
    "DnsProvider",
    "DnsRecord",
    "EnvEngine",
    "EventSink",
    "InfraEngine",
    "KeyProvider",
    "LockHolder",
    "PullSecret",
    "RegistryCredentials",
    "StateStore",
    "StepRecord",
    "StepState",
    "TargetLease",
    "WrappedKey",
]
