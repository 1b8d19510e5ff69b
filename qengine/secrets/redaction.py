"""Redaction: every known form of every secret replaced with ``***``.

A :class:`Redactor` is built once per job from its secret values; :meth:`Redactor.redact`
accepts ``str`` or ``bytes``. All forms of all secrets are compiled into one pattern (a prefix
trie, see :mod:`qengine.secrets._trie`) where the longest form wins at each position; matches
that overlap (two secrets sharing characters) are merged, so no tail of a secret survives next
to a mask. Text without any secret costs one ``search``. The forms covered are listed in
:mod:`qengine.secrets._encodings`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import AnyStr, TypeVar

from qengine.secrets._encodings import encoded_forms
from qengine.secrets._trie import trie_pattern
from qengine.secrets.value import MASK, SecretValue

_T = TypeVar("_T", str, bytes)


class Redactor:
    """Replaces secret values, in any covered encoding, with ``***``. Immutable, thread-safe."""

    def __init__(self, values: Iterable[str | SecretValue]) -> None:
        forms: set[str] = set()
        for value in values:
            forms |= encoded_forms(value.reveal() if isinstance(value, SecretValue) else value)
        ordered = sorted(forms)
        self._text = _compile_text(ordered)
        self._bytes = _compile_bytes(ordered)

    def __repr__(self) -> str:
        return "Redactor(...)"

    def redact(self, text: AnyStr) -> AnyStr:
        """Return ``text`` with every covered form of every secret replaced by ``***``."""
        if isinstance(text, str):
            return _apply(self._text, text, MASK)
        return _apply(self._bytes, text, MASK.encode())

    def redact_lines(self, lines: Iterable[AnyStr]) -> Iterator[AnyStr]:
        """Redact a stream line by line (for example a subprocess's stdout)."""
        for line in lines:
            yield self.redact(line)


_Patterns = tuple[re.Pattern[_T], re.Pattern[_T]]


def _compile_text(forms: list[str]) -> _Patterns[str] | None:
    """A quick-reject pattern, and a lookahead one that finds overlapping matches too."""
    if not forms:
        return None
    body = trie_pattern(forms)
    return re.compile(body), re.compile(f"(?=({body}))")


def _compile_bytes(forms: list[str]) -> _Patterns[bytes] | None:
    if not forms:
        return None
    # Build the trie over the UTF-8 bytes, carried one byte per character through latin-1.
    body = trie_pattern(form.encode("utf-8", "surrogatepass").decode("latin-1") for form in forms)
    return re.compile(body.encode("latin-1")), re.compile(f"(?=({body}))".encode("latin-1"))


def _apply(patterns: _Patterns[_T] | None, text: _T, mask: _T) -> _T:
    first = None if patterns is None else patterns[0].search(text)
    if patterns is None or first is None:
        return text
    spans: list[list[int]] = []
    for match in patterns[1].finditer(text, first.start()):
        start, end = match.start(), match.start() + len(match.group(1))
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    pieces: list[_T] = []
    cursor = 0
    for start, end in spans:
        pieces += [text[cursor:start], mask]
        cursor = end
    pieces.append(text[cursor:])
    return text[:0].join(pieces)
