"""The audit records the engine writes, built in one place so their shape stays uniform.

Actions are stable strings; ``details`` values are short codes or names, never secret values,
people's names or e-mail addresses.
"""

from __future__ import annotations

import datetime
import re
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


_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_SAFE_REASON = re.compile(r"[a-z][a-z_]{0,31}")
WITHHELD = "?"


def safe_id(value: object) -> str:
    """``value`` when it is a plain id (letters, digits, ``._:-``, at most 128), else ``?``.

    Refused jobs come from anyone: their ids are checked before they reach a record, a
    message or a regular expression, so a record is never refused for them (an id shaped like
    an e-mail address, a megabyte of text, control characters) and never repeats them.
    """
    if isinstance(value, str) and len(value) <= 128 and _SAFE_ID.fullmatch(value):
        return value
    return WITHHELD


def job_refused(job_id: str, actor_id: str, reason: str, *, clock: Clock = utc_now) -> AuditRecord:
    """A job refused before anything ran (``reason``: e.g. ``JobRefused.reason``).

    The ids are passed through :func:`safe_id` and the reason must be a short code, so this
    record can always be written, whatever the job held.
    """
    return AuditRecord(
        time=timestamp(clock()),
        job_id=safe_id(job_id),
        actor_id=safe_id(actor_id),
        action=JOB_REFUSED,
        outcome="refused",
        details={"reason": reason if _SAFE_REASON.fullmatch(reason) else "refused"},
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
