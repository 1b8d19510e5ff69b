"""Five-field cron schedules (minute hour day-of-month month day-of-week), as CronJobs use.

Supports ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists, and the macros
``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``. Times are UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from qengine.testing.kube.status import ApiError

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            start, end = low, high
        elif "-" in body:
            start, end = (int(x) for x in body.split("-", 1))
        else:
            start = end = int(body)
            if step_text:
                end = high
        values.update(range(start, end + 1, step))
    return frozenset(v % 7 if high == 6 else v for v in values)


@attrs.frozen
class CronSchedule:
    """A parsed schedule; :meth:`next_after` gives the next matching minute."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        """Parse a schedule; 422-style error when it is not one."""
        fields = _MACROS.get(text.strip(), text).split()
        if len(fields) != 5:
            raise ApiError(
                422, "Invalid", f"spec.schedule: Invalid value: {text!r}: expected exactly 5 fields"
            )
        try:
            parsed = [_field(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES, strict=True)]
        except ValueError as exc:
            raise ApiError(422, "Invalid", f"spec.schedule: Invalid value: {text!r}") from exc
        return cls(*parsed)

    def matches(self, when: datetime) -> bool:
        """Whether the minute ``when`` is scheduled."""
        weekday = (when.weekday() + 1) % 7
        return (
            when.minute in self.minutes
            and when.hour in self.hours
            and when.day in self.days
            and when.month in self.months
            and weekday in self.weekdays
        )

    def next_after(self, after: datetime) -> datetime | None:
        """The first scheduled minute strictly after ``after`` (within about a year)."""
        when = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = when + timedelta(days=366 * 4)
        while when < limit:
            if self.matches(when):
                return when
            when = self._skip(when)
        return None

    def _skip(self, when: datetime) -> datetime:
        # Jump a whole day or hour when that part cannot match; else the next minute.
        weekday = (when.weekday() + 1) % 7
        if (
            when.month not in self.months
            or when.day not in self.days
            or weekday not in self.weekdays
        ):
            return when.replace(hour=0, minute=0) + timedelta(days=1)
        if when.hour not in self.hours:
            return when.replace(minute=0) + timedelta(hours=1)
        return when + timedelta(minutes=1)
