"""The ``target`` sections this plugin provides.

Each says how the job reaches its cluster, and what the cluster serves routers with
(``routing``): Ingresses (the default) or Gateway API routes through a ``gateway`` of a
GatewayClass.
"""

from __future__ import annotations

from typing import Literal

import attrs

from qengine.spec import DnsLabel, Port, TargetSpec

Routing = Literal["ingress", "gateway"]


@attrs.frozen(kw_only=True)
class GatewayOptions:
    """The Gateway of each environment, when ``routing`` is ``gateway``.

    The defaults fit the add-on stack: Traefik's GatewayClass ``traefik``, whose listeners
    must use the ports of its entry points (``web`` 8000, ``websecure`` 8443; the
    LoadBalancer Service maps 80 and 443 to them). Another implementation's class usually
    takes 80 and 443.

    :ivar class_name: The GatewayClass of each environment's Gateway.
    :ivar http_port: The port of the Gateway's HTTP listener.
    :ivar https_port: The port of its HTTPS listeners (one per router host name with TLS).
    """

    class_name: DnsLabel = DnsLabel("traefik")
    http_port: Port = Port(8000)
    https_port: Port = Port(8443)


@attrs.frozen(kw_only=True)
class KubeconfigTarget(TargetSpec):
    """A cluster reached through a kubeconfig file on the engine's machine.

    ``path`` defaults to the host's ``KUBECONFIG`` or ``~/.kube/config``; ``context`` to the
    file's current context.

    :ivar path: The kubeconfig file; unset, the host's ``KUBECONFIG`` or ``~/.kube/config``.
    :ivar context: The context to use; unset, the file's current context.
    :ivar routing: What the cluster serves routers with: ``ingress`` (an Ingress of class
        ``nginx`` per router) or ``gateway`` (Gateway API: an HTTPRoute per router and a
        Gateway per environment).
    :ivar gateway: The environment's Gateway, with ``routing: gateway``.
    """

    kind: Literal["kubeconfig"]
    path: str | None = None
    context: str | None = None
    routing: Routing = "ingress"
    gateway: GatewayOptions = attrs.field(factory=GatewayOptions)


@attrs.frozen(kw_only=True)
class InClusterTarget(TargetSpec):
    """The cluster the engine itself runs in, through its pod's service account.

    :ivar routing: What the cluster serves routers with: ``ingress`` (an Ingress of class
        ``nginx`` per router) or ``gateway`` (Gateway API: an HTTPRoute per router and a
        Gateway per environment).
    :ivar gateway: The environment's Gateway, with ``routing: gateway``.
    """

    kind: Literal["in-cluster"]
    routing: Routing = "ingress"
    gateway: GatewayOptions = attrs.field(factory=GatewayOptions)


@attrs.frozen(kw_only=True)
class SandboxTarget(TargetSpec):
    """The embedded sandbox: an in-process Kubernetes API simulator (``qengine.testing.kube``).

    It is a simulator, not a cluster: nothing really runs. ``readiness_delay`` is how long its
    simulated pods take to become ready, in seconds.

    :ivar readiness_delay: How long the simulator's pods take to become ready, in seconds.
    :ivar routing: What the cluster serves routers with: ``ingress`` (an Ingress of class
        ``nginx`` per router) or ``gateway`` (Gateway API: an HTTPRoute per router and a
        Gateway per environment).
    :ivar gateway: The environment's Gateway, with ``routing: gateway``.
    """

    kind: Literal["sandbox"]
    readiness_delay: float = 0.2
    routing: Routing = "ingress"
    gateway: GatewayOptions = attrs.field(factory=GatewayOptions)
