"""Reading and writing the JSON files the security commands take and produce."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from qengine.spec._document import read_document


def load_json_object(path: pathlib.Path, what: str) -> dict[str, Any]:
    """Parse ``path`` as one JSON object, with the limits and strictness of job documents."""
    return read_document(path, what)


def write_json(path: pathlib.Path, value: object) -> None:
    """Write ``value`` as indented JSON, atomically, mode 0600."""
    from qengine.secrets._filemode import write_private_file

    write_private_file(path, (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode())
