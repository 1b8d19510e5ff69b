"""DNS providers ensure and delete records."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from qengine.interfaces.cancel import CancelToken


@attrs.frozen(kw_only=True)
class DnsRecord:
    """One record set: ``name`` is fully qualified, ``values`` are in the record's syntax."""

    name: str
    type: str
    values: tuple[str, ...]
    ttl: int = 300


class DnsProvider(abc.ABC):
    """A DNS zone's authority.

    The factory registered with ``registry.add_dns_provider`` builds one per job, from the
    job's ``dns`` section and its services; building it opens no secret and makes no request.
    The environment engine calls it from the steps of routers with custom domains.
    """

    @abc.abstractmethod
    def ensure_record(self, record: DnsRecord, cancel: CancelToken | None = None) -> bool:
        """Create or update ``record`` and wait until the change is live; True if it changed.

        ``cancel`` (the running step's token) interrupts the wait.
        """

    @abc.abstractmethod
    def delete_record(self, record: DnsRecord, cancel: CancelToken | None = None) -> bool:
        """Delete the record set named ``record.name`` of type ``record.type``, whatever values
        it holds (``record.values`` may be empty); False if it was already absent.

        ``cancel`` (the running step's token) interrupts the wait for the change to be live.
        """
