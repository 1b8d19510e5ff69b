"""Amazon Route53 as a :class:`~qengine.interfaces.DnsProvider`.

The hosted zone is the spec's ``zone_id`` or the public zone whose name is ``zone``. A record
is compared with what Route53 holds (name, type, TTL and the set of values) before anything is
sent, so ensuring an unchanged record makes no change and returns False. A change is an
``UPSERT`` (or a ``DELETE`` of exactly the record Route53 holds), followed by a bounded wait
for ``INSYNC`` through the plugin's poll policy, which a job's cancel token interrupts.

The provider is built by the ``route53`` factory from the job's ``dns`` section and services
(see :func:`qengine_aws.credentials.access_for`); construction sends no request.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from qengine.plugin import (
    CancelToken,
    ConflictError,
    DnsProvider,
    DnsRecord,
    InvalidInputError,
    TransientError,
)
from qengine_aws.credentials import access_for
from qengine_aws.spec import Route53Dns

if TYPE_CHECKING:
    from qengine.plugin import JobServices

#: Route53 is a global service whose API is signed for this region.
ROUTE53_REGION = "us-east-1"


class ChangePending(TransientError):
    """A Route53 change is not yet live on every name server (retried by the poll policy)."""


def absolute(name: str) -> str:
    """``name`` in Route53's form: lower case, with the final dot."""
    return name.lower().rstrip(".") + "."


def same_record(record: DnsRecord, held: dict[str, Any]) -> bool:
    """True when Route53's record set ``held`` says what ``record`` says."""
    values = {item["Value"] for item in held.get("ResourceRecords", [])}
    return (
        absolute(held["Name"]) == absolute(record.name)
        and held["Type"] == record.type
        and int(held.get("TTL", -1)) == record.ttl
        and values == set(record.values)
    )


class Route53DnsProvider(DnsProvider):
    """Records of one hosted zone.

    The wait for a change to be live is interrupted by the ``cancel`` token a call is given
    (the running step's), else by the one given at construction; without either it is bounded
    by the plugin's poll policy alone.
    """

    def __init__(
        self, section: Route53Dns, services: JobServices, *, cancel: CancelToken | None = None
    ) -> None:
        self.spec = section
        self._access = access_for(services, ROUTE53_REGION)
        self._cancel = cancel or CancelToken()
        self._zone_id = section.zone_id
        self._lock = threading.Lock()

    def zone_id(self) -> str:
        """The hosted zone's id (looked up by name once)."""
        with self._lock:
            if self._zone_id is None:
                self._zone_id = self._lookup_zone()
            return self._zone_id

    def ensure_record(self, record: DnsRecord, cancel: CancelToken | None = None) -> bool:
        """UPSERT ``record`` unless Route53 already holds it; wait for INSYNC; True if changed."""
        held = self._held(record)
        if held is not None and same_record(record, held):
            return False
        self._change("UPSERT", _record_set(record), record, cancel or self._cancel)
        return True

    def delete_record(self, record: DnsRecord, cancel: CancelToken | None = None) -> bool:
        """Delete ``record`` (whatever values it holds now); False if it was absent."""
        held = self._held(record)
        if held is None:
            return False
        self._change("DELETE", held, record, cancel or self._cancel)
        return True

    def _route53(self) -> Any:
        return self._access.client("route53")

    def _lookup_zone(self) -> str:
        wanted = absolute(self.spec.zone)
        with self._access.call(f"looking up the hosted zone {self.spec.zone}"):
            zones = self._route53().list_hosted_zones_by_name(DNSName=wanted)["HostedZones"]
        public = [
            z for z in zones if z["Name"] == wanted and not z.get("Config", {}).get("PrivateZone")
        ]
        if not public:
            raise InvalidInputError(
                f"$.dns.zone: no public Route53 hosted zone is named {self.spec.zone}",
                hint="Create the zone, or give its id as dns.zone_id.",
            )
        if len(public) > 1:
            raise ConflictError(
                f"several public hosted zones are named {self.spec.zone}",
                hint="Give the one to use as dns.zone_id.",
            )
        return str(public[0]["Id"]).removeprefix("/hostedzone/")

    def _check_in_zone(self, record: DnsRecord) -> None:
        zone = absolute(self.spec.zone)
        name = absolute(record.name)
        if name != zone and not name.endswith("." + zone):
            raise InvalidInputError(
                f"the record {record.name} is not in the zone {self.spec.zone}",
                hint="Records must be the zone's apex or names under it.",
            )

    def _held(self, record: DnsRecord) -> dict[str, Any] | None:
        self._check_in_zone(record)
        name = absolute(record.name)
        with self._access.call(f"reading the record {record.name} {record.type}"):
            sets = self._route53().list_resource_record_sets(
                HostedZoneId=self.zone_id(),
                StartRecordName=name,
                StartRecordType=record.type,
                MaxItems="1",
            )["ResourceRecordSets"]
        for held in sets:
            if absolute(held["Name"]) == name and held["Type"] == record.type:
                return dict(held)
        return None

    def _change(
        self, action: str, record_set: dict[str, Any], record: DnsRecord, cancel: CancelToken
    ) -> None:
        with self._access.call(f"{action} of the record {record.name} {record.type}"):
            info = self._route53().change_resource_record_sets(
                HostedZoneId=self.zone_id(),
                ChangeBatch={
                    "Comment": "qengine",
                    "Changes": [{"Action": action, "ResourceRecordSet": record_set}],
                },
            )["ChangeInfo"]
        self._wait(str(info["Id"]), cancel)

    def _wait(self, change_id: str, cancel: CancelToken) -> None:
        def in_sync() -> None:
            with self._access.call(f"reading the status of the change {change_id}"):
                status = self._route53().get_change(Id=change_id)["ChangeInfo"]["Status"]
            if status != "INSYNC":
                raise ChangePending(
                    f"the Route53 change {change_id} is still {status}",
                    hint="Route53 did not propagate the change in time; run the job again.",
                    retry_after=self._access.settings.poll_interval,
                )

        self._access.settings.poll.call(in_sync, cancel=cancel)


def _record_set(record: DnsRecord) -> dict[str, Any]:
    return {
        "Name": absolute(record.name),
        "Type": record.type,
        "TTL": record.ttl,
        "ResourceRecords": [{"Value": value} for value in record.values],
    }
