"""A running job's secrets: opened on demand, and hidden from everything it emits.

Only a secret that has been opened can leak, so the job's redactor covers exactly the opened
secrets: each opening adds the value to it. Events, logs and error messages pass through
:meth:`JobSecrets.redact` before any sink, file or user sees them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from qengine._errors import SecretError
from qengine.secrets.redaction import Redactor
from qengine.secrets.unsealing import SealedSecrets
from qengine.secrets.value import SecretValue


class JobSecrets:
    """The secrets of one job. Thread-safe; several steps may open secrets at once."""

    def __init__(
        self, sealed: SealedSecrets | None, *, on_open: Callable[[str], None] | None = None
    ) -> None:
        self._sealed = sealed
        self._on_open = on_open
        self._opened: dict[str, SecretValue] = {}
        self._redactor = Redactor(())
        self._lock = threading.Lock()

    @property
    def names(self) -> frozenset[str]:
        """The names of the secrets the job carries."""
        return self._sealed.names if self._sealed is not None else frozenset()

    def open(self, name: str) -> SecretValue:
        """Open the secret ``name`` (once; later calls return the same value)."""
        with self._lock:
            if name in self._opened:
                return self._opened[name]
        if self._sealed is None:
            raise SecretError(
                f"the job carries no sealed secrets, so {name!r} cannot be opened",
                hint="Seal the job with `qengine seal`, or run it with --sandbox.",
            )
        value = self._sealed.open(name)
        with self._lock:
            self._opened[name] = value
            self._redactor = Redactor(self._opened.values())
        if self._on_open is not None:
            self._on_open(name)
        return value

    def redact(self, text: str) -> str:
        """``text`` with every opened secret, in every covered encoding, masked."""
        return self._redactor.redact(text)
