"""Suggestions ("did you mean ...?") for misspelled keys, kinds, values and names.

A spec may hold tens of thousands of misspellings while a user is shown at most a hundred
problems, so the loader defers suggestions (:func:`deferred_suggestions`): a message holds a
placeholder until the problems to show are chosen, and only theirs are computed
(:func:`resolve`). The few suggestions needed at once (which misspelt key was meant, to leave
out the "is required" of the field it stands for) are computed on the spot, a bounded number
per load.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Only short words are compared, against short lists: the cost stays small whatever a
# hostile spec holds (a key may be 1,024 characters long).
_MAX_WORD = 64
_MAX_CANDIDATES = 200
_MAX_AT_ONCE = 1000
# Within a load: how many more suggestions may be computed on the spot, and the deferred ones
# by placeholder. NUL never appears in a message otherwise: a spec's strings may not hold it.
_budget: ContextVar[int | None] = ContextVar("suggestion_budget", default=None)
_deferred: ContextVar[dict[str, tuple[str, tuple[str, ...]]] | None] = ContextVar(
    "deferred_suggestions", default=None
)
_PLACEHOLDER = re.compile("\x00([0-9]+)\x00")


@contextmanager
def deferred_suggestions() -> Iterator[None]:
    """Inside the block, :func:`did_you_mean` leaves placeholders for :func:`resolve`, and
    :func:`closest` computes at most a thousand suggestions."""
    budget, deferred = _budget.set(_MAX_AT_ONCE), _deferred.set({})
    try:
        yield
    finally:
        _budget.reset(budget)
        _deferred.reset(deferred)


def closest(word: object, candidates: Iterable[str]) -> str | None:
    """The candidate ``word`` most likely misspells, if one is close enough."""
    if not isinstance(word, str) or not word or len(word) > _MAX_WORD:
        return None
    left = _budget.get()
    if left is not None:
        if left <= 0:
            return None
        _budget.set(left - 1)
    return _closest(word, candidates)


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    options = [c for c in itertools.islice(candidates, _MAX_CANDIDATES) if c != word]
    folded = {option.lower(): option for option in options}
    if word.lower() in folded:  # a difference of case only
        return folded[word.lower()]
    found = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: object, candidates: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` or an empty string (a placeholder for either when deferred)."""
    if not isinstance(word, str) or not word or len(word) > _MAX_WORD:
        return ""
    deferred = _deferred.get()
    if deferred is None:
        return _phrase(_closest(word, candidates))
    placeholder = f"\x00{len(deferred)}\x00"
    # A tuple is kept as it is: callers share one among many words, not a copy each.
    shared = candidates if isinstance(candidates, tuple) else tuple(candidates)
    deferred[placeholder] = (word, shared[:_MAX_CANDIDATES])
    return placeholder


def resolve(message: str) -> str:
    """``message`` with its placeholders replaced by their suggestions (or nothing)."""
    deferred = _deferred.get() or {}

    def suggestion(match: re.Match[str]) -> str:
        found = deferred.get(match.group())
        return _phrase(_closest(*found)) if found is not None else ""

    return _PLACEHOLDER.sub(suggestion, message)


def _phrase(match: str | None) -> str:
    return f" (did you mean {match!r}?)" if match is not None else ""
