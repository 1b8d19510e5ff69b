"""Waiting for a router served through the Gateway API, and the failures that will not pass.

A router's HTTPRoute is settled when the cluster keeps each of its promises:

- the environment's Gateway is ``Programmed`` (its controller configured the data plane for
  it; a listener whose certificate Secret does not exist yet keeps it from that);
- the HTTPRoute's status, for the parent that is this Gateway, says ``Accepted`` and
  ``ResolvedRefs`` (it is attached, and its backend Services exist);
- with TLS, the Certificate cert-manager's gateway-shim made for the router's Secret is
  ``Ready``.

Failures that will not pass on their own end the wait at once, with a hint: no GatewayClass
of the target's name (no Gateway controller, or another class name), a GatewayClass or
Gateway that its controller refused, a listener in conflict, a route its Gateway did not
accept or whose backends do not resolve. What is still pending when the timeout comes is
reported with the conditions' own messages (a certificate not issued: the ClusterIssuer's
message). The objects are read by GET at each round (a few per router), every
:data:`POLL_SECONDS` seconds, on the step's cancel token.
"""

from __future__ import annotations

import time

from qengine.runner import StepContext
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.render import Manifest, names
from qengine_kubernetes.rollout import RolloutError

POLL_SECONDS = 0.5
NO_CLASS_HINT = (
    "The Gateway's class names no GatewayClass in the cluster: install a Gateway API "
    "controller (the add-on stack's Traefik has one, with the class 'traefik'), or set "
    "$.target.gateway.class_name to the class the cluster has."
)
CONFLICT_HINT = (
    "Two listeners of the Gateway claim the same port and host name, or protocols that "
    "cannot share a port: check $.target.gateway's ports and the routers' domains."
)
CERT_HINT = (
    "cert-manager issues the certificate of each HTTPS listener through the ClusterIssuer "
    "the Gateway's cert-manager.io/cluster-issuer annotation names: check that cert-manager "
    "runs with Gateway API support (config.enableGatewayAPI), that the issuer exists and is "
    "Ready, and the Certificate's events (kubectl describe certificate)."
)
ROUTE_HINT = (
    "The Gateway did not attach the route: check that its listeners allow routes of the "
    "namespace and serve the route's host names."
)
PENDING_HINT = (
    "The cluster's Gateway controller did not report the Gateway or the route as ready: "
    "check that it runs (the add-on stack's Traefik, with its kubernetesGateway provider) and "
    "its logs."
)


def condition(obj: Manifest | None, kind: str) -> Manifest:
    """The condition of type ``kind`` in ``obj``'s status (empty when absent)."""
    return _find((obj or {}).get("status", {}).get("conditions"), kind)


def _find(conditions: object, kind: str) -> Manifest:
    for item in conditions if isinstance(conditions, list) else []:
        if isinstance(item, dict) and item.get("type") == kind:
            return item
    return {}


def _true(cond: Manifest) -> bool:
    return cond.get("status") == "True"


def _false(cond: Manifest) -> bool:
    return cond.get("status") == "False"


def _said(cond: Manifest) -> str:
    reason, message = cond.get("reason", ""), cond.get("message", "")
    return f"{reason}: {message}" if message else str(reason or "no status yet")


def gateway_addresses(gateway: Manifest | None) -> list[Manifest]:
    """The addresses a Gateway is reached at, as an Ingress writes them (``{"ip": ...}`` or
    ``{"hostname": ...}``), from its ``status.addresses``."""
    found: list[Manifest] = []
    for item in (gateway or {}).get("status", {}).get("addresses") or []:
        if not isinstance(item, dict) or not item.get("value"):
            continue
        key = "hostname" if item.get("type") == "Hostname" else "ip"
        found.append({key: item["value"]})
    return found


def route_parent(route: Manifest | None) -> Manifest:
    """The status the HTTPRoute's controller wrote for the environment's Gateway as parent."""
    for parent in (route or {}).get("status", {}).get("parents") or []:
        ref = parent.get("parentRef") or {}
        if ref.get("name") == names.GATEWAY and ref.get("kind", "Gateway") == "Gateway":
            found: Manifest = parent
            return found
    return {}


class RouteWait:
    """One router's wait: reads the objects at each round and judges them."""

    def __init__(
        self, api: KubeApi, ctx: StepContext, namespace: str, router: str, tls: bool
    ) -> None:
        self.api = api
        self.ctx = ctx
        self.namespace = namespace
        self.router = router
        self.tls = tls
        self._last = ""

    def run(self, timeout: float) -> None:
        """Wait until the route is served. Raises :class:`RolloutError`."""
        deadline = time.monotonic() + timeout
        while True:
            self.ctx.cancel.raise_if_cancelled()
            pending = self.round()
            if not pending:
                self._progress(f"{self.router}: route accepted by gateway {names.GATEWAY}")
                return
            self._progress(f"{self.router}: awaits " + "; ".join(pending))
            if time.monotonic() >= deadline:
                cert = any(p.startswith("certificate") for p in pending)
                raise RolloutError(
                    f"router {self.router} was not served within {timeout:.0f}s: "
                    + "; ".join(pending),
                    hint=CERT_HINT if cert else PENDING_HINT,
                )
            self.ctx.cancel.wait(POLL_SECONDS)

    def round(self) -> list[str]:
        """What is still pending; raises on a failure that stays."""
        gateway = self.api.get("Gateway", self.namespace, names.GATEWAY)
        if gateway is None:
            raise RolloutError(
                f"router {self.router}: the Gateway {names.GATEWAY} of the namespace is missing",
                hint="The namespace step applies it: deploy the whole environment again.",
            )
        pending = self._gateway(gateway)
        pending += self._route()
        if self.tls:
            pending += self._certificate()
        return pending

    def _gateway(self, gateway: Manifest) -> list[str]:
        class_name = str(gateway.get("spec", {}).get("gatewayClassName", ""))
        gateway_class = self.api.get("GatewayClass", None, class_name)
        if gateway_class is None:
            raise RolloutError(
                f"router {self.router}: the GatewayClass {class_name!r} of Gateway "
                f"{names.GATEWAY} does not exist",
                hint=NO_CLASS_HINT,
            )
        accepted = condition(gateway_class, "Accepted")
        if _false(accepted):
            raise RolloutError(
                f"router {self.router}: GatewayClass {class_name} was not accepted by its "
                f"controller ({_said(accepted)})",
                hint=NO_CLASS_HINT,
            )
        accepted = condition(gateway, "Accepted")
        if _false(accepted) and accepted.get("reason") != "Pending":
            raise RolloutError(
                f"router {self.router}: Gateway {names.GATEWAY} was not accepted "
                f"({_said(accepted)})",
                hint=PENDING_HINT,
            )
        for listener in gateway.get("status", {}).get("listeners") or []:
            conflicted = _find(listener.get("conditions"), "Conflicted")
            if _true(conflicted):
                raise RolloutError(
                    f"router {self.router}: listener {listener.get('name')} of Gateway "
                    f"{names.GATEWAY} is in conflict ({_said(conflicted)})",
                    hint=CONFLICT_HINT,
                )
        programmed = condition(gateway, "Programmed")
        if _true(programmed):
            return []
        return [f"gateway {names.GATEWAY} Programmed ({_said(programmed)})"]

    def _route(self) -> list[str]:
        route = self.api.get("HTTPRoute", self.namespace, self.router)
        parent = route_parent(route)
        accepted = _find(parent.get("conditions"), "Accepted")
        resolved = _find(parent.get("conditions"), "ResolvedRefs")
        if _false(accepted) and accepted.get("reason") != "Pending":
            raise RolloutError(
                f"router {self.router}: Gateway {names.GATEWAY} did not accept the route "
                f"({_said(accepted)})",
                hint=ROUTE_HINT,
            )
        if _false(resolved):
            raise RolloutError(
                f"router {self.router}: the route's backends do not resolve ({_said(resolved)})",
                hint="A route goes to a Service of the environment and one of its ports: "
                "check the router's routes.",
            )
        pending = []
        if not _true(accepted):
            pending.append(f"route Accepted ({_said(accepted)})")
        elif not _true(resolved):
            pending.append(f"route ResolvedRefs ({_said(resolved)})")
        return pending

    def _certificate(self) -> list[str]:
        secret = names.tls_secret(self.router)
        certificate = self.api.get("Certificate", self.namespace, secret)
        if certificate is None:
            return [f"certificate {secret} (not made yet by cert-manager)"]
        ready = condition(certificate, "Ready")
        return [] if _true(ready) else [f"certificate {secret} Ready ({_said(ready)})"]

    def _progress(self, message: str) -> None:
        if message != self._last:
            self._last = message
            self.ctx.emit_progress(message, service=self.router)


def await_route(
    api: KubeApi, ctx: StepContext, namespace: str, route: Manifest, tls: bool, timeout: float
) -> None:
    """Wait until the router of ``route`` (its HTTPRoute) is served."""
    RouteWait(api, ctx, namespace, route["metadata"]["name"], tls).run(timeout)
