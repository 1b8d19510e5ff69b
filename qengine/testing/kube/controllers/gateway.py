"""A Gateway API controller, as Traefik's ``kubernetesGateway`` provider plays it, once the
Gateway API CRDs are served (the add-on stack applies them).

- A GatewayClass whose ``controllerName`` is Traefik's (``traefik.io/gateway-controller``)
  is ``Accepted``; a class of another controller is left alone, as no controller of it runs.
- A Gateway of such a class is ``Accepted``; each listener is judged: two listeners on one
  port with the same host name, or with protocols that cannot share it, are ``Conflicted``;
  an HTTPS listener whose ``certificateRefs`` Secret does not exist (yet) has
  ``ResolvedRefs`` False (``InvalidCertificateRef``) and is not ``Programmed``. The Gateway is
  ``Programmed``, with the load balancer's address in ``status.addresses``, once every
  listener is. A Gateway of a class that does not exist, or of another controller's, gets no
  status at all: nothing in a real cluster would write one.
- An HTTPRoute gets a ``status.parents`` entry for each parent Gateway this controller runs:
  ``Accepted`` when a listener of that Gateway admits it (same namespace, a host name in
  common), else False (``NotAllowedByListeners``, ``NoMatchingListenerHostname``), and
  ``ResolvedRefs`` False (``BackendNotFound``) when a backend Service or its port is missing.
  A parentRef naming no Gateway gets no entry, so the route is never Accepted.
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.controllers.common import rtype, with_status
from qengine.testing.kube.controllers.services import LB_ADDRESS
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.objects import ObjectApi

JSON = dict[str, Any]
GROUP = "gateway.networking.k8s.io"
CONTROLLER_NAME = "traefik.io/gateway-controller"


def reconcile(api: ObjectApi, work: Work) -> None:
    """One pass over GatewayClasses, Gateways and HTTPRoutes (few objects: all of them)."""
    classes = api.store.types.preferred(GROUP, "gatewayclasses")
    gateways = api.store.types.preferred(GROUP, "gateways")
    routes = api.store.types.preferred(GROUP, "httproutes")
    if classes is None or gateways is None or routes is None:
        return  # the Gateway API CRDs are not installed
    del work
    now = api.store.clock.stamp()
    ours: set[str] = set()
    for gateway_class in list(api.store.iter(classes.key)):
        if gateway_class.get("spec", {}).get("controllerName") != CONTROLLER_NAME:
            continue
        ours.add(gateway_class["metadata"]["name"])
        generation = gateway_class["metadata"].get("generation", 1)
        accepted = _condition("Accepted", True, "Accepted", "Handled by Traefik", now, generation)
        _commit(api, classes, gateway_class, {"conditions": [accepted]})
    mine = [
        g
        for g in api.store.iter(gateways.key)
        if g.get("spec", {}).get("gatewayClassName") in ours
        and not g["metadata"].get("deletionTimestamp")
    ]
    all_routes = list(api.store.iter(routes.key))
    for gateway in mine:
        _gateway(api, gateways, gateway, all_routes, now)
    by_key = {(g["metadata"]["namespace"], g["metadata"]["name"]): g for g in mine}
    for route in all_routes:
        _route(api, routes, route, by_key, now)


def _condition(kind: str, ok: bool, reason: str, message: str, now: str, generation: int) -> JSON:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
        "observedGeneration": generation,
    }


def _commit(api: ObjectApi, rtype_: Any, obj: JSON, status: JSON) -> None:
    """Write ``status`` when it differs from the object's, the times of unchanged conditions
    kept (a controller writes only what changed)."""
    old = obj.get("status") or {}
    if _stripped(old) == _stripped(status):
        return
    api.commit_raw(rtype_, with_status(obj, status))


def _stripped(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stripped(v) for k, v in value.items() if k != "lastTransitionTime"}
    if isinstance(value, list):
        return [_stripped(v) for v in value]
    return value


def _secret_exists(api: ObjectApi, namespace: str, ref: JSON) -> bool:
    if ref.get("kind", "Secret") != "Secret" or ref.get("group", "") not in ("", "core"):
        return False
    where = ref.get("namespace") or namespace
    return api.store.find(rtype(api, "", "secrets").key, where, ref.get("name", "")) is not None


def _conflicts(listeners: list[JSON]) -> dict[str, str]:
    """The listeners in conflict and why: the same port with the same host name
    (``HostnameConflict``) or with protocols that cannot share it (``ProtocolConflict``)."""
    found: dict[str, str] = {}
    for i, one in enumerate(listeners):
        for other in listeners[:i] + listeners[i + 1 :]:
            if one.get("port") != other.get("port"):
                continue
            secure = {one.get("protocol"), other.get("protocol")}
            if secure == {"HTTP", "HTTPS"} or secure == {"HTTP", "TLS"}:
                found[one["name"]] = "ProtocolConflict"
            elif one.get("hostname") == other.get("hostname"):
                found[one["name"]] = "HostnameConflict"
    return found


def _gateway(api: ObjectApi, kind: Any, gateway: JSON, routes: list[JSON], now: str) -> None:
    namespace = gateway["metadata"]["namespace"]
    generation = gateway["metadata"].get("generation", 1)
    listeners = gateway.get("spec", {}).get("listeners") or []
    conflicts = _conflicts(listeners)
    statuses: list[JSON] = []
    all_ready = True
    for listener in listeners:
        name = listener["name"]
        refs = (listener.get("tls") or {}).get("certificateRefs") or []
        missing = [r.get("name", "") for r in refs if not _secret_exists(api, namespace, r)]
        needs_cert = listener.get("protocol") == "HTTPS"
        conflict = conflicts.get(name)
        conditions = [
            _condition("Accepted", True, "Accepted", "Listener accepted", now, generation),
            _condition("Conflicted", True, conflict, "Listener conflicts", now, generation)
            if conflict
            else _condition("Conflicted", False, "NoConflicts", "No conflicts", now, generation),
        ]
        if needs_cert and (missing or not refs):
            message = f"Secret {namespace}/{missing[0]} not found" if missing else "no certificate"
            conditions.append(
                _condition("ResolvedRefs", False, "InvalidCertificateRef", message, now, generation)
            )
            conditions.append(_condition("Programmed", False, "Invalid", message, now, generation))
            all_ready = False
        else:
            conditions.append(_condition("ResolvedRefs", True, "ResolvedRefs", "", now, generation))
            conditions.append(
                _condition("Programmed", False, "Invalid", "Listener conflicts", now, generation)
                if conflict
                else _condition("Programmed", True, "Programmed", "", now, generation)
            )
            all_ready = all_ready and not conflict
        attached = sum(1 for r in routes if _admits(gateway, listener, r))
        statuses.append(
            {
                "name": name,
                "supportedKinds": [{"group": GROUP, "kind": "HTTPRoute"}],
                "attachedRoutes": attached,
                "conditions": conditions,
            }
        )
    message = "Gateway programmed" if all_ready else "A listener is not programmed"
    status = {
        "addresses": [{"type": "IPAddress", "value": LB_ADDRESS}],
        "conditions": [
            _condition("Accepted", True, "Accepted", "Gateway accepted", now, generation),
            _condition(
                "Programmed",
                all_ready,
                "Programmed" if all_ready else "Invalid",
                message,
                now,
                generation,
            ),
        ],
        "listeners": statuses,
    }
    _commit(api, kind, gateway, status)


def _parent_of(route: JSON, ref: JSON) -> tuple[str, str] | None:
    if ref.get("group", GROUP) != GROUP or ref.get("kind", "Gateway") != "Gateway":
        return None
    return (ref.get("namespace") or route["metadata"]["namespace"], ref.get("name", ""))


def _hosts_match(listener: JSON, hostnames: list[str]) -> bool:
    wanted = listener.get("hostname")
    if not wanted or not hostnames:
        return True
    for host in hostnames:
        if host == wanted:
            return True
        if wanted.startswith("*.") and host.endswith(wanted[1:]) and host.count(".") >= 2:
            return True
        if host.startswith("*.") and wanted.endswith(host[1:]):
            return True
    return False


def _allows(gateway: JSON, listener: JSON, route: JSON) -> bool:
    allowed = ((listener.get("allowedRoutes") or {}).get("namespaces") or {}).get("from", "Same")
    same = route["metadata"]["namespace"] == gateway["metadata"]["namespace"]
    return bool(allowed == "All" or (allowed == "Same" and same))


def _admits(gateway: JSON, listener: JSON, route: JSON) -> bool:
    """Whether ``listener`` of ``gateway`` admits ``route`` (one of its parentRefs)."""
    key = (gateway["metadata"]["namespace"], gateway["metadata"]["name"])
    for ref in route.get("spec", {}).get("parentRefs") or []:
        if _parent_of(route, ref) != key:
            continue
        if ref.get("sectionName") and ref["sectionName"] != listener["name"]:
            continue
        if _allows(gateway, listener, route) and _hosts_match(
            listener, route.get("spec", {}).get("hostnames") or []
        ):
            return True
    return False


def _backends(api: ObjectApi, route: JSON) -> str:
    """Why a backend does not resolve, or ''."""
    namespace = route["metadata"]["namespace"]
    services = rtype(api, "", "services")
    for rule in route.get("spec", {}).get("rules") or []:
        for backend in rule.get("backendRefs") or []:
            if backend.get("kind", "Service") != "Service":
                return f"unsupported backend kind {backend.get('kind')}"
            service = api.store.find(services.key, namespace, backend.get("name", ""))
            if service is None:
                return f"Service {namespace}/{backend.get('name')} not found"
            ports = {p.get("port") for p in service.get("spec", {}).get("ports") or []}
            if backend.get("port") not in ports:
                return (
                    f"Service {namespace}/{backend.get('name')} has no port {backend.get('port')}"
                )
    return ""


def _route(
    api: ObjectApi, kind: Any, route: JSON, gateways: dict[tuple[str, str], JSON], now: str
) -> None:
    generation = route["metadata"].get("generation", 1)
    parents: list[JSON] = []
    for ref in route.get("spec", {}).get("parentRefs") or []:
        key = _parent_of(route, ref)
        gateway = gateways.get(key) if key else None
        if gateway is None:
            continue  # no Gateway of this controller: nothing writes a status for it
        listeners = gateway.get("spec", {}).get("listeners") or []
        allowed = [lst for lst in listeners if _allows(gateway, lst, route)]
        matching = [
            lst
            for lst in allowed
            if _hosts_match(lst, route.get("spec", {}).get("hostnames") or [])
        ]
        if not allowed:
            accepted = _condition(
                "Accepted",
                False,
                "NotAllowedByListeners",
                "No listener allows the route",
                now,
                generation,
            )
        elif not matching:
            accepted = _condition(
                "Accepted",
                False,
                "NoMatchingListenerHostname",
                "No listener matches the route's host names",
                now,
                generation,
            )
        else:
            accepted = _condition("Accepted", True, "Accepted", "Route accepted", now, generation)
        broken = _backends(api, route)
        resolved = (
            _condition("ResolvedRefs", False, "BackendNotFound", broken, now, generation)
            if broken
            else _condition("ResolvedRefs", True, "ResolvedRefs", "Resolved", now, generation)
        )
        parent_ref = {"group": GROUP, "kind": "Gateway", "name": gateway["metadata"]["name"]}
        if ref.get("namespace"):
            parent_ref["namespace"] = ref["namespace"]
        if ref.get("sectionName"):
            parent_ref["sectionName"] = ref["sectionName"]
        parents.append(
            {
                "parentRef": parent_ref,
                "controllerName": CONTROLLER_NAME,
                "conditions": [accepted, resolved],
            }
        )
    others = [
        p
        for p in (route.get("status") or {}).get("parents") or []
        if p.get("controllerName") != CONTROLLER_NAME
    ]
    if not parents and not (route.get("status") or {}).get("parents"):
        return
    _commit(api, kind, route, {"parents": [*others, *parents]})
