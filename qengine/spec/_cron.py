"""Checking of five-field cron expressions, as Kubernetes CronJobs accept them.

Beyond syntax, an expression must be able to fire: ``0 0 30 2 *`` (February 30th) never does,
and a CronJob with it would sit silently forever.
"""

from __future__ import annotations

import attrs

_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# The longest each month can be (February in a leap year).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@attrs.frozen
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, tuple(_MONTHS), 1),
    _Field("day of week", 0, 7, tuple(_DAYS), 0),
)


def _number(text: str, field: _Field) -> int:
    lowered = text.lower()
    if lowered in field.names:
        return field.names.index(lowered) + field.name_base
    if not text.isdigit():
        raise ValueError(f"{field.name}: {text!r} is not a number")
    value = int(text)
    if not field.low <= value <= field.high:
        raise ValueError(f"{field.name}: {value} is outside {field.low}-{field.high}")
    return value


def _expand_item(item: str, field: _Field) -> set[int]:
    body, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"{field.name}: step {step_text!r} must be a positive number")
        step = int(step_text)
    if body == "*":
        low, high = field.low, field.high
    elif "-" in body:
        start, _, end = body.partition("-")
        low, high = _number(start, field), _number(end, field)
        if low > high:
            raise ValueError(f"{field.name}: range {body!r} runs backwards")
    else:
        low = _number(body, field)
        high = field.high if step_text else low
    return set(range(low, high + 1, step))


def _expand(text: str, field: _Field) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(f"{field.name}: empty list item")
        values |= _expand_item(item, field)
    return values


def check_cron(value: str) -> str | None:
    """None if ``value`` is a cron expression that can fire, else what is wrong with it."""
    if value.strip() in _MACROS:
        return None
    parts = value.split()
    if len(parts) != 5:
        return "must be a cron expression of five fields (minute hour day month weekday)"
    try:
        expanded = [_expand(part, field) for part, field in zip(parts, _FIELDS, strict=True)]
    except ValueError as exc:
        return f"is not a valid cron expression: {exc}"
    days, months = expanded[2], expanded[3]
    day_of_week_restricted = parts[4] != "*"
    if not day_of_week_restricted and not any(
        day <= _MONTH_DAYS[month - 1] for month in months for day in days
    ):
        return "never fires: no selected month has the selected day of month"
    return None
