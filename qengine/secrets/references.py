"""Finding secret references, ``{"secret": "name"}``, anywhere in a JSON job.

A reference is an object with exactly one member, ``"secret"``, whose value is a string.
The job's own ``secrets`` (the sealed section) and ``signature`` members are not searched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_NOT_SEARCHED = frozenset({"secrets", "signature"})


def find_references(job: Mapping[str, Any]) -> set[str]:
    """The names of every secret the job references."""
    return set(reference_paths(job))


def reference_paths(job: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Each referenced name with the ``$.path`` of every place that references it."""
    found: dict[str, list[str]] = {}
    for key, value in job.items():
        if key in _NOT_SEARCHED:
            continue
        for name, path in _walk(value, member_path("$", key)):
            found.setdefault(name, []).append(path)
    return {name: tuple(paths) for name, paths in sorted(found.items())}


def member_path(parent: str, key: str) -> str:
    """``$.a`` for identifier-like keys, ``$["a b"]`` for the rest."""
    if _IDENT.match(key):
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key)}]"


def _walk(node: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        if len(node) == 1 and isinstance(node.get("secret"), str):
            yield node["secret"], path
            return
        for key, value in node.items():
            yield from _walk(value, member_path(path, str(key)))
    elif isinstance(node, list | tuple):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")
