"""Suggestions ("did you mean ...?") for misspelled keys, kinds and enumerated values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Only short words are compared, against short lists: the cost stays small whatever a
# hostile spec holds (a key may be 1,024 characters long).
_MAX_WORD = 64
_MAX_CANDIDATES = 200
# How many more suggestions the current load may compute (None: no limit). A spec can hold
# tens of thousands of misspellings; the first ones are suggested, the rest left plain.
_budget: ContextVar[int | None] = ContextVar("suggestion_budget", default=None)


@contextmanager
def bounded_suggestions(limit: int = 100) -> Iterator[None]:
    """Compute at most ``limit`` suggestions inside the block."""
    token = _budget.set(limit)
    try:
        yield
    finally:
        _budget.reset(token)


def closest(word: object, candidates: Iterable[str]) -> str | None:
    """The candidate ``word`` most likely misspells, if one is close enough."""
    if not isinstance(word, str) or not word or len(word) > _MAX_WORD:
        return None
    left = _budget.get()
    if left is not None:
        if left <= 0:
            return None
        _budget.set(left - 1)
    options = [c for c in candidates if c != word][:_MAX_CANDIDATES]
    folded = {option.lower(): option for option in options}
    if word.lower() in folded:  # a difference of case only
        return folded[word.lower()]
    found = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: object, candidates: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` or an empty string."""
    match = closest(word, candidates)
    return f" (did you mean {match!r}?)" if match is not None else ""
