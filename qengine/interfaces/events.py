"""Event sinks receive the job's event stream."""

from __future__ import annotations

import abc

from qengine._events import Event


class EventSink(abc.ABC):
    """A destination for a job's events (a JSON-lines file, a host callback, a console).

    Events reach a sink already redacted; a sink must not raise for a well-formed event.
    """

    @abc.abstractmethod
    def emit(self, event: Event) -> None:
        """Deliver one event; its JSON form is valid against ``qengine schema --events``."""

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Flush and release resources at the end of the job."""
