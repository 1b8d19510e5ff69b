"""Terraform version constraints (``">= 6.28"``, ``"~> 21.19"``), checked without terraform.

Used to tell, before ``terraform init``, whether a provider mirror holds a version a module
will accept. Only what Terraform's constraint syntax allows for releases is understood:
``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=`` and ``~>``, joined by commas; pre-release
versions (``6.30.0-beta1``) never satisfy a constraint, as in Terraform unless named exactly.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

_PART = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?(\d+(?:\.\d+){0,2})\s*$")
_RELEASE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
_COMPARE: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def release(text: str) -> tuple[int, int, int] | None:
    """``"6.30.0"`` as ``(6, 30, 0)``; None for anything else (pre-releases included)."""
    match = _RELEASE.match(text.strip())
    if match is None:
        return None
    major, minor, patch = (int(group) for group in match.groups())
    return major, minor, patch


def satisfies(version: str, constraint: str) -> bool:
    """Whether the release ``version`` meets every part of ``constraint``.

    Raises ValueError for a constraint this module cannot read.
    """
    found = release(version)
    if found is None:
        return False
    return all(_meets(found, part) for part in constraint.split(","))


def _meets(version: tuple[int, int, int], part: str) -> bool:
    match = _PART.match(part)
    if match is None:
        raise ValueError(f"not a Terraform version constraint: {part.strip()!r}")
    op, number = match.group(1) or "=", match.group(2)
    wanted = tuple(int(piece) for piece in number.split("."))
    if op == "~>":
        return _pessimistic(version, wanted)
    padded = wanted + (0,) * (3 - len(wanted))
    return _COMPARE[op](version, padded)


def _pessimistic(version: tuple[int, int, int], wanted: tuple[int, ...]) -> bool:
    # "~> 1.2" allows 1.x from 1.2; "~> 1.2.3" allows 1.2.x from 1.2.3: the last given part
    # may grow, the ones before it are fixed.
    padded = wanted + (0,) * (3 - len(wanted))
    fixed = max(len(wanted) - 1, 1)
    return version >= padded and version[:fixed] == wanted[:fixed]
