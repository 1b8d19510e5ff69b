"""The documentation of spec classes and their fields, read from the classes' docstrings.

A spec class documents each of its fields in its own docstring, one Sphinx field-list entry
``:ivar name: what it means`` per field (continuation lines indented); the text before the
first entry describes the class. The JSON Schema's descriptions, the reference page and
``qengine explain`` all come from here, so the words live next to the fields they describe
and a test fails when a field has none. Each class is parsed once.
"""

from __future__ import annotations

import functools
import re

_ENTRY = re.compile(r":ivar ([A-Za-z_][A-Za-z0-9_]*):\s*(.*)")


@functools.cache
def _parsed(cl: type) -> tuple[str, dict[str, str]]:
    text = cl.__dict__.get("__doc__") or ""
    lines = text.expandtabs().splitlines()
    summary: list[str] = []
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        stripped = line.strip()
        match = _ENTRY.fullmatch(stripped)
        if match is not None:
            current = fields.setdefault(match.group(1), [])
            current.append(match.group(2))
        elif current is not None and stripped:
            current.append(stripped)
        elif current is None:
            summary.append(stripped)
        else:
            current = None  # a blank line ends an entry
    return _prose(summary), {name: _prose(words) for name, words in fields.items()}


def _prose(words: list[str]) -> str:
    return " ".join(" ".join(words).split()).replace("``", "`")


def class_doc(cl: type) -> str:
    """What ``cl`` is: its docstring without the field entries."""
    return _parsed(cl)[0]


def field_doc(cl: type, name: str) -> str | None:
    """What the field ``name`` of ``cl`` means, from ``cl`` or the class that declares it."""
    for klass in cl.__mro__:
        found = _parsed(klass)[1].get(name)
        if found:
            return found
    return None


def documented_fields(cl: type) -> frozenset[str]:
    """The names ``cl``'s own docstring documents (to catch entries for fields it lacks)."""
    return frozenset(_parsed(cl)[1])
