"""The request and response values passed between the HTTP layer and the API routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

JSON = dict[str, Any]


@attrs.frozen(kw_only=True)
class Request:
    """A parsed request: ``query`` keeps the last value of each parameter."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def flag(self, name: str) -> bool:
        """A boolean query parameter (``1``/``true``, case-insensitive)."""
        return self.query.get(name, "").lower() in ("1", "true")

    @property
    def content_type(self) -> str:
        """The media type of the body, without parameters."""
        return self.headers.get("content-type", "").split(";")[0].strip()

    @property
    def accept(self) -> str:
        """The Accept header."""
        return self.headers.get("accept", "")


@attrs.frozen(kw_only=True)
class Response:
    """A JSON (``body``), raw (``raw``) or streamed (``stream``) response."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = attrs.Factory(dict)
    stream: Iterator[bytes] | None = None
