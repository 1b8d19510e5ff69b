"""Cloud DNS as a :class:`~qengine.plugin.DnsProvider` (the ``cloud-dns`` section).

The managed zone is the section's ``managed_zone``, or the public zone whose DNS name is
``zone`` (``managedZones.list?dnsName=``). A record is compared with what Cloud DNS holds
(name, type, TTL and the set of values) before anything is sent, so ensuring an unchanged
record makes no change and returns False. A change is one ``changes.create`` holding the
deletion of exactly the record set Cloud DNS holds (if any) and the addition of the new one,
which Cloud DNS applies atomically; then a bounded wait for the change to be ``done``
(``changes.get``) through the plugin's poll policy, which the step's cancel token interrupts.

Requests go to the Cloud DNS REST API (v1) through google-auth's ``AuthorizedSession`` with
the section's short-lived credentials (:class:`~qengine_gcp.credentials.GcpAccess`). Building
the provider sends no request and opens no secret.
"""

from __future__ import annotations

import threading
import urllib.parse
from typing import TYPE_CHECKING, Any

from qengine.plugin import (
    CancelToken,
    ConflictError,
    DnsProvider,
    DnsRecord,
    InfrastructureError,
    InvalidInputError,
    TransientError,
)
from qengine_gcp.credentials import GcpAccess, translate
from qengine_gcp.settings import settings_of
from qengine_gcp.spec import CloudDns

if TYPE_CHECKING:
    from qengine.plugin import JobServices

ENDPOINT = "https://dns.googleapis.com"


class ChangePending(TransientError):
    """A Cloud DNS change is not done yet (retried by the plugin's poll policy)."""


def absolute(name: str) -> str:
    """``name`` in Cloud DNS's form: lower case, with the final dot."""
    return name.lower().rstrip(".") + "."


def record_set(record: DnsRecord) -> dict[str, Any]:
    """The ``ResourceRecordSet`` of ``record``."""
    return {
        "kind": "dns#resourceRecordSet",
        "name": absolute(record.name),
        "type": record.type,
        "ttl": record.ttl,
        "rrdatas": list(record.values),
    }


def same_record(record: DnsRecord, held: dict[str, Any]) -> bool:
    """True when Cloud DNS's record set ``held`` says what ``record`` says."""
    return (
        absolute(str(held.get("name", ""))) == absolute(record.name)
        and held.get("type") == record.type
        and int(held.get("ttl", -1)) == record.ttl
        and set(held.get("rrdatas", [])) == set(record.values)
    )


class CloudDnsProvider(DnsProvider):
    """Records of one Cloud DNS managed zone."""

    def __init__(
        self, section: CloudDns, services: JobServices, *, cancel: CancelToken | None = None
    ) -> None:
        self.spec = section
        self._access = GcpAccess(
            identity=section, open_secret=services.secrets.open, settings=settings_of(services)
        )
        self._cancel = cancel or CancelToken()
        self._zone = section.managed_zone
        self._lock = threading.Lock()
        self._session: Any = None

    def managed_zone(self) -> str:
        """The managed zone's name (looked up by DNS name once)."""
        with self._lock:
            if self._zone is None:
                self._zone = self._lookup_zone()
            return self._zone

    def ensure_record(self, record: DnsRecord, cancel: CancelToken | None = None) -> bool:
        """Create or replace ``record`` unless Cloud DNS holds it already; wait until done."""
        held = self._held(record)
        if held is not None and same_record(record, held):
            return False
        deletions = [held] if held is not None else []
        self._change({"additions": [record_set(record)], "deletions": deletions}, record, cancel)
        return True

    def delete_record(self, record: DnsRecord, cancel: CancelToken | None = None) -> bool:
        """Delete ``record`` (whatever values it holds now); False if it was absent."""
        held = self._held(record)
        if held is None:
            return False
        self._change({"deletions": [held]}, record, cancel)
        return True

    def _url(self, path: str) -> str:
        base = (self._access.settings.dns_endpoint or ENDPOINT).rstrip("/")
        project = urllib.parse.quote(self.spec.project, safe="")
        return f"{base}/dns/v1/projects/{project}/{path}"

    def _request(self, method: str, path: str, doing: str, **kwargs: Any) -> dict[str, Any]:
        if self._session is None:
            from google.auth.transport.requests import AuthorizedSession

            self._session = AuthorizedSession(self._access.credentials())  # type: ignore[no-untyped-call]
        try:
            reply = self._session.request(method, self._url(path), timeout=30, **kwargs)
        except Exception as exc:
            raise (translate(exc, doing) or InfrastructureError(f"{doing}: {exc}")) from exc
        if reply.status_code >= 400:
            from google.api_core import exceptions

            error = exceptions.from_http_response(reply)  # type: ignore[no-untyped-call]
            if reply.status_code in (409, 412):
                raise ConflictError(
                    f"Cloud DNS refused while {doing}: {error.message}",
                    hint="The record changed while the job ran; run it again.",
                ) from error
            raise translate(error, doing) or InfrastructureError(f"{doing}: {error}") from error
        answer: dict[str, Any] = reply.json()
        return answer

    def _lookup_zone(self) -> str:
        wanted = absolute(self.spec.zone)
        answer = self._request(
            "GET",
            "managedZones",
            f"looking up the managed zone of {self.spec.zone}",
            params={"dnsName": wanted},
        )
        public = [
            zone
            for zone in answer.get("managedZones", [])
            if zone.get("dnsName") == wanted and zone.get("visibility", "public") == "public"
        ]
        if not public:
            raise InvalidInputError(
                f"$.dns.zone: no public Cloud DNS managed zone serves {self.spec.zone} in "
                f"{self.spec.project}",
                hint="Create the zone, or give its name as dns.managed_zone.",
            )
        if len(public) > 1:
            raise ConflictError(
                f"several public managed zones serve {self.spec.zone}",
                hint="Give the one to use as dns.managed_zone.",
            )
        return str(public[0]["name"])

    def _held(self, record: DnsRecord) -> dict[str, Any] | None:
        zone, name = absolute(self.spec.zone), absolute(record.name)
        if name != zone and not name.endswith("." + zone):
            raise InvalidInputError(
                f"the record {record.name} is not in the zone {self.spec.zone}",
                hint="Records must be the zone's apex or names under it.",
            )
        answer = self._request(
            "GET",
            f"managedZones/{self.managed_zone()}/rrsets",
            f"reading the record {record.name} {record.type}",
            params={"name": name, "type": record.type},
        )
        for held in answer.get("rrsets", []):
            if absolute(str(held.get("name", ""))) == name and held.get("type") == record.type:
                return dict(held)
        return None

    def _change(self, body: dict[str, Any], record: DnsRecord, cancel: CancelToken | None) -> None:
        zone = self.managed_zone()
        change = self._request(
            "POST",
            f"managedZones/{zone}/changes",
            f"changing the record {record.name} {record.type}",
            json={"kind": "dns#change", **body},
        )
        change_id = str(change.get("id", ""))
        status = [str(change.get("status", ""))]

        def done() -> None:
            if status[0] == "done":
                return
            found = self._request(
                "GET",
                f"managedZones/{zone}/changes/{change_id}",
                f"reading the status of the change {change_id}",
            )
            status[0] = str(found.get("status", ""))
            if status[0] != "done":
                raise ChangePending(
                    f"the Cloud DNS change {change_id} is still {status[0]}",
                    hint="Cloud DNS did not apply the change in time; run the job again.",
                    retry_after=self._access.settings.poll_interval,
                )

        self._access.settings.poll.call(done, cancel=cancel or self._cancel)
