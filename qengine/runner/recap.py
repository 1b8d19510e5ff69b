"""The recap that ends a job's console view: what changed, how long each step took, what
failed, why, what was rolled back or left as it was, and what to do about it."""

from __future__ import annotations

from types import MappingProxyType

import attrs

from qengine._events import Event, EventType

__all__ = ["ENDINGS", "Recap", "recap_style", "render_recap"]

_STATUS_OF = MappingProxyType(
    {
        EventType.STEP_FINISHED: "succeeded",
        EventType.STEP_FAILED: "failed",
        EventType.STEP_SKIPPED: "skipped",
        EventType.STEP_CANCELLED: "cancelled",
        EventType.STEP_COMPENSATED: "rolled back",
    }
)
ENDINGS = frozenset(_STATUS_OF)  # the events that end a step's run (or undo it)


@attrs.define
class Recap:
    """What the console remembers of a job's events for its recap."""

    durations: dict[str, float] = attrs.field(factory=dict)
    statuses: dict[str, str] = attrs.field(factory=dict)
    changes: list[str] = attrs.field(factory=list)
    failures: list[tuple[str, str, str]] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)

    def remember(self, event: Event) -> None:
        """Take in one event (already made safe for a terminal)."""
        step = event.step_id or ""
        if event.type in _STATUS_OF:
            self.statuses[step] = _STATUS_OF[event.type]
            duration = event.data.get("duration_seconds")
            if isinstance(duration, int | float) and event.type is not EventType.STEP_COMPENSATED:
                self.durations[step] = float(duration)
        if event.type is EventType.STEP_FAILED:
            self.failures.append((step, event.message, str(event.data.get("hint") or "")))
        elif event.type is EventType.RESOURCE_CHANGED:
            self.changes.append(f"{event.message}  ({step})")
        elif event.type is EventType.WARNING:
            self.warnings.append(event.message)


def render_recap(recap: Recap, finished: Event) -> list[str]:
    """The job's recap lines, from what the console saw and the ``job.finished`` event."""
    total = finished.data.get("duration_seconds")
    took = f"{total:.2f}s" if isinstance(total, int | float) else "?"
    lines = ["", f"Job {finished.job_id} {finished.data.get('status', '?')} in {took}"]
    if recap.changes:
        lines += ["Changed:", *(f"  {change}" for change in recap.changes)]
    lines.append("Steps:")
    for step, status in recap.statuses.items():  # the name last: a long one wraps alone
        seconds = recap.durations.get(step)
        took = f"{seconds:.2f}s" if seconds is not None else ""
        lines.append(f"  {status:<11} {took:>9}  {step}")
    for step, message, hint in recap.failures:
        lines.append(f"Failed: {step}: {message}")
        if hint:
            lines.append(f"  hint: {hint}")
    for key, label in (("rolled_back", "Rolled back"), ("left_in_place", "Left as it was")):
        value = finished.data.get(key)
        if value:
            lines.append(f"{label}: {value}")
    lines += [f"Warning: {warning}" for warning in recap.warnings]
    return lines


def recap_style(line: str) -> str:
    """The rich style of a recap line on a terminal."""
    if line.startswith(("Failed:", "  hint:")):
        return "red"
    if line.startswith("Warning:"):
        return "yellow"
    if line.startswith(("Changed:", "Steps:", "Next:")):
        return "bold"
    return ""
