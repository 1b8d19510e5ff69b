"""Audit sinks receive one record per mutating action, append-only."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

import attrs


@attrs.frozen(kw_only=True)
class AuditRecord:
    """What happened, to what, by whom (a pseudonymous actor id), when, and with what outcome.

    ``details`` must never hold a secret value, a person's name or an e-mail address.
    """

    time: str
    job_id: str
    actor_id: str
    action: str
    target: str = ""
    outcome: str = "ok"
    details: Mapping[str, str] = attrs.field(factory=dict)


class AuditSink(abc.ABC):
    """An append-only destination for :class:`AuditRecord` values."""

    @abc.abstractmethod
    def append(self, record: AuditRecord) -> None:
        """Durably append ``record`` after every record appended before it.

        Post: the record is written (flushed) before this returns; a sink that cannot write
        raises rather than dropping the record.
        """

    def append_all(self, records: Sequence[AuditRecord]) -> None:
        """Durably append ``records``, in order, after every record appended before them.

        Post: as :meth:`append` for each record. The default appends them one by one; a sink
        may write them together (one flush for the lot).
        """
        for record in records:
            self.append(record)

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release resources; records appended before this call are kept."""
