"""The audit records the engine writes, built in one place so their shape stays uniform.

Actions are stable strings; ``details`` values are short codes or names, never secret values,
people's names or e-mail addresses.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from qengine.interfaces.audit import AuditRecord, AuditSink

JOB_ACCEPTED = "job.accepted"
JOB_REFUSED = "job.refused"
JOB_FINISHED = "job.finished"
SECRET_UNSEALED = "secret.unsealed"  # noqa: S105 - an action name, not a password
STEP_MUTATED = "step.mutated"

Clock = Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    """The default clock."""
    return datetime.datetime.now(datetime.UTC)


def timestamp(moment: datetime.datetime) -> str:
    """RFC 3339 UTC with milliseconds, the form every record's ``time`` takes."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_refused(job_id: str, actor_id: str, reason: str, *, clock: Clock = utc_now) -> AuditRecord:
    """A job refused before anything ran (``reason``: e.g. ``JobRefused.reason``)."""
    return AuditRecord(
        time=timestamp(clock()),
        job_id=job_id,
        actor_id=actor_id,
        action=JOB_REFUSED,
        outcome="refused",
        details={"reason": reason},
    )


def unsealed_recorder(
    sink: AuditSink, *, job_id: str, actor_id: str, clock: Clock = utc_now
) -> Callable[[str], None]:
    """An ``on_open`` callback for :class:`~qengine.secrets.unsealing.SealedSecrets`.

    Each opening appends a ``secret.unsealed`` record whose target is the secret's name.
    """

    def record(name: str) -> None:
        sink.append(
            AuditRecord(
                time=timestamp(clock()),
                job_id=job_id,
                actor_id=actor_id,
                action=SECRET_UNSEALED,
                target=name,
            )
        )

    return record
