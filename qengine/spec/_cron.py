"""Checking of five-field cron expressions, as Kubernetes CronJobs accept them.

The parsing is cronsim's (a small, maintained parser that also refuses a day of month no
selected month has). Beyond syntax, an expression must be able to fire: ``0 0 30 2 *``
(February 30th) never does, and a CronJob with it would sit silently forever. cronsim is
imported only when an expression is checked, so loading the spec stays cheap.
"""

from __future__ import annotations

from datetime import datetime

_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
# A cron expression is a line of text; a longer value is no schedule, and cutting it here
# keeps the parser's work small whatever a hostile spec holds.
MAX_CRON_CHARS = 200
_FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
# Kubernetes' parser knows no L, W or # (cronsim, after Debian's cron, does).
_NOT_KUBERNETES = frozenset("lw#?")


def check_cron(value: str) -> str | None:
    """None if ``value`` is a cron expression that can fire, else what is wrong with it."""
    if value.strip() in _MACROS:
        return None
    if len(value) > MAX_CRON_CHARS:
        return f"is too long for a cron expression (at most {MAX_CRON_CHARS} characters)"
    parts = value.split()
    if len(parts) != 5:
        return "must be a cron expression of five fields (minute hour day month weekday)"
    for name, part in zip(_FIELD_NAMES, parts, strict=True):
        if name.startswith("day") and _NOT_KUBERNETES & set(part.lower().replace("wed", "")):
            return f"is not a valid cron expression: {name}: Kubernetes accepts no L, W, # or ?"
    problem = _parse(" ".join(parts))
    if problem is None:
        return None
    if problem == "Bad day-of-month" and _parse(f"0 0 {parts[2]} * *") is None:
        return "never fires: no selected month has the selected day of month"
    return f"is not a valid cron expression: {problem.lower()}"


def _parse(expression: str) -> str | None:
    from cronsim import CronSim, CronSimError

    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as exc:
        return str(exc)
    return None
