"""A local stand-in of Cloud DNS (REST v1): managed zones, record sets and changes, the calls
of the ``cloud-dns`` DNS provider. No emulator of Cloud DNS exists.

As Cloud DNS does: ``managedZones.list`` filters by ``dnsName``; ``rrsets.list`` by ``name``
and ``type``; a change is applied atomically, its deletions having to match a held record set
exactly (else 412 ``conditionNotMet``) and its additions not to exist after them (else 409
``alreadyExists``); a new change is ``pending`` until it is read once (so a client must poll),
then ``done``. Errors are Cloud DNS's (v1 bodies with ``errors[].reason``).
"""

from __future__ import annotations

import itertools
import urllib.parse
from typing import Any

from qengine_gcp.sandbox_http import JsonStandIn, Reply, TokenIssuer, json_body


def _error(code: int, reason: str, message: str) -> Reply:
    return code, {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


class LocalCloudDns(JsonStandIn):
    """Public managed zones of ``project`` (``zones``: managed zone name -> DNS name, more
    with :meth:`add_zone`); use it as a context manager."""

    def __init__(
        self,
        project: str,
        zones: dict[str, str],
        *,
        token: str | None = None,
        issuer: TokenIssuer | None = None,
    ) -> None:
        super().__init__(token=token, issuer=issuer)
        self.zones = dict(zones)  # managed zone name -> DNS name
        self.projects = {name: project for name in zones}
        self.records: dict[str, dict[tuple[str, str], dict[str, Any]]] = {z: {} for z in zones}
        self.changes: dict[str, dict[str, Any]] = {}
        self.posted = 0
        self._numbers = itertools.count(1)

    def add_zone(self, project: str, name: str, dns_name: str) -> None:
        """Serve the public zone ``dns_name`` as ``name`` in ``project`` (kept if present)."""
        if name not in self.zones:
            self.zones[name], self.projects[name] = dns_name, project
            self.records[name] = {}

    def route(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        if not self.accepts(headers.get("Authorization")):
            return _error(401, "authError", "Invalid Credentials")
        route, _, query = path.partition("?")
        params = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        parts = [urllib.parse.unquote(p) for p in route.split("/") if p]
        if parts[:3] != ["dns", "v1", "projects"] or len(parts) < 5 or parts[4] != "managedZones":
            return _error(404, "notFound", "Not Found")
        project, rest = parts[3], parts[5:]
        if not rest and method == "GET":
            zones = [
                {"kind": "dns#managedZone", "name": name, "dnsName": dns, "visibility": "public"}
                for name, dns in self.zones.items()
                if self.projects[name] == project
                and ("dnsName" not in params or params["dnsName"] == dns)
            ]
            return 200, {"kind": "dns#managedZonesListResponse", "managedZones": zones}
        if self.projects.get(rest[0] if rest else "") != project:
            return _error(404, "notFound", "The 'parameters.managedZone' resource was not found.")
        return self._zone(method, rest[0], rest[1:], params, json_body(body))

    def _zone(
        self, method: str, zone: str, rest: list[str], params: dict[str, str], body: dict[str, Any]
    ) -> Reply:
        if rest == ["rrsets"] and method == "GET":
            sets = [
                held
                for (name, kind), held in sorted(self.records[zone].items())
                if params.get("name", name) == name and params.get("type", kind) == kind
            ]
            return 200, {"kind": "dns#resourceRecordSetsListResponse", "rrsets": sets}
        if rest == ["changes"] and method == "POST":
            return self._apply(zone, body)
        if len(rest) == 2 and rest[0] == "changes" and method == "GET":
            change = self.changes.get(rest[1])
            if change is None:
                return _error(404, "notFound", "The 'parameters.changeId' resource was not found.")
            answer = dict(change)
            change["status"] = "done"
            return 200, answer
        return _error(404, "notFound", "Not Found")

    def _apply(self, zone: str, body: dict[str, Any]) -> Reply:
        held = dict(self.records[zone])
        for index, deletion in enumerate(body.get("deletions", [])):
            key = (deletion["name"], deletion["type"])
            found = held.get(key)
            if found is None or {k: found[k] for k in ("ttl", "rrdatas")} != {
                k: deletion.get(k) for k in ("ttl", "rrdatas")
            }:
                return _error(
                    412,
                    "conditionNotMet",
                    f"Precondition not met for 'entity.change.deletions[{index}]'",
                )
            del held[key]
        for index, addition in enumerate(body.get("additions", [])):
            key = (addition["name"], addition["type"])
            if key in held:
                return _error(
                    409,
                    "alreadyExists",
                    f"The resource 'entity.change.additions[{index}]' named '{key[0]} "
                    f"({key[1]})' already exists",
                )
            held[key] = {
                "kind": "dns#resourceRecordSet",
                "name": addition["name"],
                "type": addition["type"],
                "ttl": int(addition.get("ttl", 300)),
                "rrdatas": list(addition.get("rrdatas", [])),
            }
        self.records[zone] = held
        self.posted += 1
        change_id = str(next(self._numbers))
        change = {
            "kind": "dns#change",
            "id": change_id,
            "status": "pending",
            "startTime": "2026-12-06T06:00:00.000Z",
            "additions": body.get("additions", []),
            "deletions": body.get("deletions", []),
        }
        self.changes[change_id] = change
        return 200, dict(change)
