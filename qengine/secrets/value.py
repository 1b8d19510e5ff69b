"""A secret value that does not show itself."""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

MASK = "***"


class SecretValue:
    """Holds one secret. ``repr``, ``str`` and ``format`` show ``***``; :meth:`reveal` gives it.

    Equality is constant-time (:func:`hmac.compare_digest`); the value is neither hashable
    (a hash would be a cheap oracle) nor picklable (a pickle would be a plaintext copy).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a SecretValue holds a str")
        self._value = value

    def reveal(self) -> str:
        """Return the plaintext. Call it at the last moment, where the value is used."""
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a SecretValue cannot be pickled")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a SecretValue cannot be pickled")
