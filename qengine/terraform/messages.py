"""Terraform's machine-readable UI output (``-json``) and its plain-text diagnostics.

``init``, ``plan`` and ``apply`` run with ``-json``: each stdout line is one JSON object with
``@level``, ``@message`` and ``type``; failures arrive as ``type: diagnostic`` lines carrying
``severity``, ``summary``, ``detail`` and sometimes ``address``. That is what the error
classifier reads: it never has to scrape the human rendering.

``show -json`` and ``output -json`` print one JSON document instead and report failures as
plain text on stderr (``Error: <summary>`` then the detail); :func:`parse_text_diagnostics`
reads that form (run with ``-no-color``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import attrs

_HEADERS = {"Error: ": "error", "Warning: ": "warning"}
_BOX_CHARS = "╷│╵ "


@attrs.frozen(kw_only=True)
class LogLine:
    """One line of Terraform output, ready for an event: ``level`` is info, warn or error.

    ``kind`` is the ``type`` of Terraform's JSON message (``planned_change``,
    ``apply_complete``, ``diagnostic``, ``log``...; ``text`` for a plain line). For messages
    about one resource, ``address`` and ``action`` (``create``, ``update``, ``delete``,
    ``replace``...) say which and what, so the engine can report resource changes.
    """

    level: str
    text: str
    kind: str = "text"
    address: str | None = None
    action: str | None = None


@attrs.frozen(kw_only=True)
class Diagnostic:
    """A Terraform diagnostic: ``severity`` is ``error`` or ``warning``."""

    severity: str
    summary: str
    detail: str = ""
    address: str | None = None

    def render(self) -> str:
        """One readable block: summary, resource address when known, detail."""
        where = f" ({self.address})" if self.address else ""
        head = f"{self.severity.capitalize()}: {self.summary}{where}"
        return f"{head}: {self.detail}" if self.detail else head


@attrs.frozen(kw_only=True)
class UiMessage:
    """A parsed ``-json`` line: its log rendering and, for diagnostics, the diagnostic."""

    line: LogLine
    diagnostic: Diagnostic | None = None


def parse_ui_line(raw: str) -> UiMessage:
    """Parse one stdout line of a ``-json`` command; non-JSON lines become plain info lines."""
    try:
        document = json.loads(raw)
    except ValueError:
        return UiMessage(line=LogLine(level="info", text=raw))
    if not isinstance(document, dict):
        return UiMessage(line=LogLine(level="info", text=raw))
    diagnostic = _diagnostic(document.get("diagnostic"))
    text = diagnostic.render() if diagnostic else str(document.get("@message", raw))
    address, action = _resource_action(document.get("hook") or document.get("change"))
    line = LogLine(
        level=str(document.get("@level", "info")),
        text=text,
        kind=str(document.get("type", "log")),
        address=address,
        action=action,
    )
    return UiMessage(line=line, diagnostic=diagnostic)


def _resource_action(value: object) -> tuple[str | None, str | None]:
    if not isinstance(value, dict):
        return None, None
    resource = value.get("resource")
    address = resource.get("addr") if isinstance(resource, dict) else None
    action = value.get("action")
    return (
        address if isinstance(address, str) else None,
        action if isinstance(action, str) else None,
    )


def _diagnostic(value: object) -> Diagnostic | None:
    if not isinstance(value, dict):
        return None
    address = value.get("address")
    return Diagnostic(
        severity=str(value.get("severity", "error")),
        summary=str(value.get("summary", "")),
        detail=str(value.get("detail", "")),
        address=address if isinstance(address, str) else None,
    )


def parse_text_diagnostics(lines: Iterable[str]) -> tuple[Diagnostic, ...]:
    """Split ``-no-color`` stderr into diagnostics (``Error: ...`` / ``Warning: ...`` blocks)."""
    found: list[tuple[str, str, list[str]]] = []
    for raw in lines:
        line = raw.lstrip(_BOX_CHARS) if raw[:1] in _BOX_CHARS else raw
        header = next((h for h in _HEADERS if line.startswith(h)), None)
        if header is not None:
            found.append((_HEADERS[header], line[len(header) :].strip(), []))
        elif found:
            found[-1][2].append(line.rstrip())
    return tuple(
        Diagnostic(severity=sev, summary=summary, detail="\n".join(body).strip())
        for sev, summary, body in found
    )
