"""Typed root-module outputs read from ``terraform output -json``."""

from __future__ import annotations

import json

import attrs

from qengine.terraform.errors import MalformedOutputError
from qengine.terraform.json_types import Json


@attrs.frozen(kw_only=True, repr=False)
class OutputValue:
    """One output: its value, whether Terraform marks it sensitive, and its Terraform type.

    ``type`` is Terraform's JSON type expression: ``"string"``, ``["list", "string"]``,
    ``["object", {...}]``. The repr never shows a sensitive value.
    """

    value: Json
    sensitive: bool
    type: Json

    def __repr__(self) -> str:
        shown = "<sensitive>" if self.sensitive else repr(self.value)
        return f"OutputValue(value={shown}, sensitive={self.sensitive}, type={self.type!r})"


def parse_outputs(text: str) -> dict[str, OutputValue]:
    """Parse the document ``terraform output -json`` printed (name -> value)."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise MalformedOutputError("terraform output -json did not print JSON") from exc
    if not isinstance(document, dict):
        raise MalformedOutputError("terraform output -json did not print an object")
    return {str(name): _output(name, entry) for name, entry in document.items()}


def _output(name: str, entry: object) -> OutputValue:
    if not isinstance(entry, dict) or "value" not in entry:
        raise MalformedOutputError(f"output {name!r} has no value in terraform output -json")
    return OutputValue(
        value=entry["value"],
        sensitive=bool(entry.get("sensitive", False)),
        type=entry.get("type"),
    )
