"""DNS providers ensure and delete records."""

from __future__ import annotations

import abc
from typing import ClassVar

import attrs


@attrs.frozen(kw_only=True)
class DnsRecord:
    """One record set: ``name`` is fully qualified, ``values`` are in the record's syntax."""

    name: str
    type: str
    values: tuple[str, ...]
    ttl: int = 300


class DnsProvider(abc.ABC):
    """A DNS zone's authority."""

    kind: ClassVar[str]

    @abc.abstractmethod
    def ensure_record(self, record: DnsRecord) -> bool:
        """Create or update ``record`` and wait until the change is live; True if it changed."""

    @abc.abstractmethod
    def delete_record(self, record: DnsRecord) -> bool:
        """Delete ``record``; False if it was already absent."""
