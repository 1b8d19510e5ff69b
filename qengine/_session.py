"""A sandbox session: the in-process stand-ins shared by the jobs of one sandbox run.

A sandbox run starts stand-ins (a Kubernetes API simulator, a moto server...) through the
plugins' ``qengine_sandbox`` hook and stops them when the run ends. A session lets several
jobs run against the same stand-ins, one after the other: an infrastructure job creates a
sandbox cluster, and the environment job run next in the same session deploys onto it.

Plugins share what they started through typed slots (:class:`SessionKey`): ``session.put(key,
value)`` and ``session.get(key)``. One slot is known to every plugin, :data:`SANDBOX_CLUSTER`:
where the API of the session's cluster answers (a :class:`SandboxCluster`), published by
whichever plugin started it (the cluster target's simulator, or a cloud plugin's stand-in
cluster) and used by the others. Whatever is entered on :attr:`SandboxSession.stack` stops
when the session ends.

A session keeps the stand-ins' request logs off standard error: moto's server (werkzeug) would
print a line per request, through a handler of its own, unless logging is configured. Its
records still reach whatever handlers the host configures for the ``werkzeug`` logger or the
root logger.
"""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType
from typing import Generic, TypeVar

import attrs

T = TypeVar("T")


@attrs.frozen
class SessionKey(Generic[T]):
    """A typed slot of a :class:`SandboxSession`; define one per value, at module level.

    ``name`` should start with the plugin's name (``"aws.moto"``) so plugins never collide.
    """

    name: str
    type: type[T]


@attrs.frozen(kw_only=True)
class SandboxCluster:
    """Where a sandbox cluster's API answers: a loopback HTTPS endpoint, its CA, a token."""

    endpoint: str
    ca_pem: str
    token: str = attrs.field(repr=False)


#: The session's cluster: set by the plugin that started it, read by every other plugin.
SANDBOX_CLUSTER: SessionKey[SandboxCluster] = SessionKey("cluster", SandboxCluster)


class SandboxSession:
    """The stand-ins of one sandbox run of one or more jobs; use it as a context manager.

    Not thread-safe: the jobs of a session run one after the other.
    """

    def __init__(self) -> None:
        self.stack = ExitStack()
        self._shared: dict[str, object] = {}
        _quiet_request_logs()

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop every stand-in the session started (in reverse order) and forget them."""
        self._shared.clear()
        self.stack.close()

    def put(self, key: SessionKey[T], value: T) -> None:
        """Publish ``value`` under ``key`` for the later jobs of the session."""
        if not isinstance(value, key.type):
            raise TypeError(f"session slot {key.name!r} holds {key.type.__name__}")
        self._shared[key.name] = value

    def get(self, key: SessionKey[T]) -> T | None:
        """The value published under ``key``, or None."""
        value = self._shared.get(key.name)
        return value if isinstance(value, key.type) else None

    def cluster(self) -> SandboxCluster | None:
        """The session's cluster, if a plugin started one (``get(SANDBOX_CLUSTER)``)."""
        return self.get(SANDBOX_CLUSTER)


def _quiet_request_logs() -> None:
    """Give werkzeug's logger a :class:`logging.NullHandler`: werkzeug adds a standard error
    handler of its own only to a logger that has none, so its access log stays off unless the
    host configured logging (a library's loggers must not print by themselves)."""
    import logging  # here, not at module level: plugins import this module to register

    logger = logging.getLogger("werkzeug")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
