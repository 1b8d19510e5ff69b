"""Azure DNS as a :class:`~qengine.plugin.DnsProvider` (the ``azure-dns`` section).

Record sets of the zone through azure-mgmt-dns (``record_sets.get``, ``create_or_update``,
``delete``), with the section's credentials. A record is compared with what Azure DNS holds
(TTL and the set of values) before anything is sent, so ensuring an unchanged record sends no
write and returns False. Azure DNS applies a record set's PUT atomically and serves it once
the call returns, so there is nothing further to wait for. A change made by someone else
between the read and the write is refused by ARM's ``If-Match`` on the read's etag (412), and
reported as a ConflictError.

Types: A, AAAA, CNAME and TXT (what routers and certificate challenges use).
Building the provider sends no request and opens no secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qengine.plugin import (
    CancelToken,
    ConflictError,
    DnsProvider,
    DnsRecord,
    InfrastructureError,
    InvalidInputError,
)
from qengine_azure.credentials import AzureAccess
from qengine_azure.settings import settings_of
from qengine_azure.spec import AzureDns

if TYPE_CHECKING:
    from azure.mgmt.dns import DnsManagementClient

    from qengine.plugin import JobServices

TYPES = ("A", "AAAA", "CNAME", "TXT")


def relative_name(record: DnsRecord, zone: str) -> str:
    """The record set's name relative to ``zone`` (``@`` for the apex); InvalidInputError
    for a name outside the zone."""
    name, zone = record.name.rstrip(".").lower(), zone.rstrip(".").lower()
    if name == zone:
        return "@"
    if not name.endswith(f".{zone}"):
        raise InvalidInputError(f"the record {record.name} is not in the zone {zone}")
    return name[: -len(zone) - 1]


def _values(record_set: Any, kind: str) -> tuple[str, ...]:
    if kind == "A":
        return tuple(sorted(r.ipv4_address for r in record_set.a_records or ()))
    if kind == "AAAA":
        return tuple(sorted(r.ipv6_address for r in record_set.aaaa_records or ()))
    if kind == "CNAME":
        cname = record_set.cname_record
        return (cname.cname,) if cname is not None and cname.cname else ()
    return tuple(sorted("".join(r.value or ()) for r in record_set.txt_records or ()))


def _record_set(record: DnsRecord) -> Any:
    from azure.mgmt.dns import models

    kind, values = record.type.upper(), record.values
    if kind == "A":
        return models.RecordSet(
            ttl=record.ttl, a_records=[models.ARecord(ipv4_address=v) for v in values]
        )
    if kind == "AAAA":
        return models.RecordSet(
            ttl=record.ttl, aaaa_records=[models.AaaaRecord(ipv6_address=v) for v in values]
        )
    if kind == "CNAME":
        if len(values) != 1:
            raise InvalidInputError(f"a CNAME record holds one name, not {len(values)}")
        return models.RecordSet(ttl=record.ttl, cname_record=models.CnameRecord(cname=values[0]))
    # Azure splits a TXT value into strings of at most 255 characters.
    return models.RecordSet(
        ttl=record.ttl,
        txt_records=[
            models.TxtRecord(value=[v[i : i + 255] for i in range(0, max(len(v), 1), 255)])
            for v in values
        ],
    )


class AzureDnsProvider(DnsProvider):
    """Record sets of the section's zone, through the section's credentials."""

    def __init__(self, section: AzureDns, services: JobServices) -> None:
        self.section = section
        self._access = AzureAccess(
            identity=section, open_secret=services.secrets.open, settings=settings_of(services)
        )

    def _client(self) -> DnsManagementClient:
        from azure.mgmt.dns import DnsManagementClient

        access = self._access
        return DnsManagementClient(
            access.credential(),
            self.section.subscription_id,
            base_url=access.settings.arm_endpoint,
            credential_scopes=[access.settings.arm_scope],
            **access.client_options(),
        )

    def _read(self, record: DnsRecord) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._client().record_sets.get(*self._where(record))
        except ResourceNotFoundError:
            return None

    def _where(self, record: DnsRecord) -> tuple[str, str, str, str]:
        kind = record.type.upper()
        if kind not in TYPES:
            raise InvalidInputError(
                f"the azure-dns provider writes {', '.join(TYPES)} records, not {record.type}"
            )
        section = self.section
        return section.resource_group, section.zone, relative_name(record, section.zone), kind

    def ensure_record(self, record: DnsRecord, cancel: CancelToken | None = None) -> bool:
        """Create or update the record set unless Azure DNS already holds it; True if it
        changed."""
        from azure.core.exceptions import HttpResponseError

        where = self._where(record)
        current = self._read(record)
        wanted = tuple(sorted(record.values)) if where[3] != "CNAME" else record.values
        if (
            current is not None
            and current.ttl == record.ttl
            and _values(current, where[3]) == wanted
        ):
            return False
        condition = {"if_match": current.etag} if current is not None else {"if_none_match": "*"}
        try:
            self._client().record_sets.create_or_update(*where, _record_set(record), **condition)
        except HttpResponseError as exc:
            raise self._error(exc, record) from exc
        return True

    def delete_record(self, record: DnsRecord, cancel: CancelToken | None = None) -> bool:
        """Delete the record set; False if it was already absent."""
        from azure.core.exceptions import HttpResponseError

        if self._read(record) is None:
            return False
        try:
            self._client().record_sets.delete(*self._where(record))
        except HttpResponseError as exc:
            raise self._error(exc, record) from exc
        return True

    def _error(self, exc: Any, record: DnsRecord) -> Exception:
        code = exc.error.code if exc.error is not None else exc.status_code
        if exc.status_code == 412:
            return ConflictError(
                f"the record {record.name} {record.type} changed in Azure DNS while it was "
                "being written",
                hint="Run the job again: it reads the record anew.",
            )
        return InfrastructureError(
            f"Azure DNS refused {record.name} {record.type} in {self.section.zone}: "
            f"{code}: {exc.message}",
            hint="The job's application needs DNS Zone Contributor on the zone.",
        )
