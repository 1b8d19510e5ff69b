"""The ``target`` sections this plugin provides."""

from __future__ import annotations

from typing import Literal

import attrs

from qengine.spec import TargetSpec


@attrs.frozen(kw_only=True)
class KubeconfigTarget(TargetSpec):
    """A cluster reached through a kubeconfig file on the engine's machine.

    ``path`` defaults to the host's ``KUBECONFIG`` or ``~/.kube/config``; ``context`` to the
    file's current context.

    :ivar path: The kubeconfig file; unset, the host's ``KUBECONFIG`` or ``~/.kube/config``.
    :ivar context: The context to use; unset, the file's current context.
    """

    kind: Literal["kubeconfig"]
    path: str | None = None
    context: str | None = None


@attrs.frozen(kw_only=True)
class InClusterTarget(TargetSpec):
    """The cluster the engine itself runs in, through its pod's service account."""

    kind: Literal["in-cluster"]


@attrs.frozen(kw_only=True)
class SandboxTarget(TargetSpec):
    """The embedded sandbox: an in-process Kubernetes API simulator (``qengine.testing.kube``).

    It is a simulator, not a cluster: nothing really runs. ``readiness_delay`` is how long its
    simulated pods take to become ready, in seconds.

    :ivar readiness_delay: How long the simulator's pods take to become ready, in seconds.
    """

    kind: Literal["sandbox"]
    readiness_delay: float = 0.2
