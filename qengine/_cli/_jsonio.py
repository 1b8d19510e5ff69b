"""Reading and writing the JSON files the security commands take and produce."""

from __future__ import annotations

import json
import pathlib
from typing import Any, NoReturn

from qengine._errors import InvalidInputError


def load_json_object(path: pathlib.Path, what: str) -> dict[str, Any]:
    """Parse ``path`` as one JSON object; refuse other JSON, duplicate keys, NaN and Infinity."""
    try:
        with path.open("rb") as handle:
            value = json.load(handle, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise InvalidInputError(f"{what} {path} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInputError(
            f"{what} {path} must hold a JSON object, not {type(value).__name__}"
        )
    return value


def write_json(path: pathlib.Path, value: object) -> None:
    """Write ``value`` as indented JSON, atomically, mode 0600."""
    from qengine.secrets._filemode import write_private_file

    write_private_file(path, (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode())


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")
