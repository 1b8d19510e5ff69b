"""Redaction: every known form of every secret replaced with ``***``.

A :class:`Redactor` is built once per job from its secret values; :meth:`Redactor.redact`
accepts ``str`` or ``bytes``. All forms of all secrets are compiled into one pattern (a prefix
trie, see :mod:`qengine.secrets._trie`) where the longest form wins at each position; matches
that overlap (two secrets sharing characters) are merged, so no tail of a secret survives next
to a mask. Text without any secret costs one ``search``. Patterns are compiled on first use
(text and bytes apart), so building a redactor that is never used costs little. The forms
covered are listed in :mod:`qengine.secrets._encodings`; a form may be folded or wrapped over
lines, and its URL encoding may use any safe set, so one form stands for many spellings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import AnyStr, Generic, TypeVar

from qengine.secrets._encodings import FOLD, URL, WRAP, YAML_BREAK, Form, redaction_forms
from qengine.secrets._trie import trie_pattern
from qengine.secrets.value import MASK, SecretValue

_T = TypeVar("_T", str, bytes)


class Redactor:
    """Replaces secret values, in any covered encoding, with ``***``. Immutable, thread-safe."""

    def __init__(self, values: Iterable[str | SecretValue]) -> None:
        forms: set[Form] = set()
        for value in values:
            forms |= redaction_forms(value.reveal() if isinstance(value, SecretValue) else value)
        ordered = sorted(forms)
        self._text: _Lazy[str] = _Lazy(ordered, _render_text, lambda body: body)
        self._bytes: _Lazy[bytes] = _Lazy(ordered, _render_bytes, _latin1)

    def __repr__(self) -> str:
        return "Redactor(...)"

    def redact(self, text: AnyStr) -> AnyStr:
        """Return ``text`` with every covered form of every secret replaced by ``***``."""
        if isinstance(text, str):
            return self._text.apply(text, MASK)
        return self._bytes.apply(text, MASK.encode())

    def redact_lines(self, lines: Iterable[AnyStr]) -> Iterator[AnyStr]:
        """Redact a stream line by line (for example a subprocess's stdout)."""
        for line in lines:
            yield self.redact(line)


# A space folded by a YAML emitter: a line break and indentation, in a double-quoted scalar
# with a ``\`` before the break and an escaped space after it.
_FOLD = r"(?:[ ]|\r?\n[ \t]*|\\\r?\n[ \t]*\\[ ])"
# A base64 text wrapped at some column, possibly indented.
_WRAP = r"(?:\r?\n[ \t]*)?"
# A double-quoted YAML scalar broken right after an escape sequence; the next line starts
# with ``\`` when it continues with a space.
_YAML_BREAK = r"(?:\\\r?\n[ \t]*\\?)?"
_FLEXIBLE = {FOLD: _FOLD, WRAP: _WRAP, YAML_BREAK: _YAML_BREAK}


def _utf8(char: str) -> str:
    """``char``'s UTF-8 bytes, one latin-1 character each (how bytes patterns are built)."""
    return char.encode("utf-8", "surrogatepass").decode("latin-1")


def _render_text(element: str) -> str:
    if element in _FLEXIBLE:
        return _FLEXIBLE[element]
    if element.startswith(URL):
        return _url_element(element[len(URL) :], re.escape(element[len(URL) :]))
    return re.escape(element)


def _render_bytes(element: str) -> str:
    if element in _FLEXIBLE:
        return _FLEXIBLE[element]
    if element.startswith(URL):
        char = element[len(URL) :]
        return _url_element(char, re.escape(_utf8(char)))
    return re.escape(_utf8(element))


def _url_element(char: str, literal: str) -> str:
    """``char`` as itself or percent-encoded (either case); a space also as ``+``."""
    hexes = [f"{b:02X}" for b in char.encode("utf-8", "surrogatepass")]
    upper = "".join("%" + h for h in hexes)
    lower = "".join("%" + h.lower() for h in hexes)
    alternatives = [literal, re.escape(upper)]
    if lower != upper:
        alternatives.append(re.escape(lower))
    if char == " ":
        alternatives.append(r"\+")
    return "(?:" + "|".join(alternatives) + ")"


def _latin1(body: str) -> bytes:
    # The trie is built over characters; each renders as its UTF-8 bytes through latin-1.
    return body.encode("latin-1")


class _Lazy(Generic[_T]):
    """The two patterns of one domain (``str`` or ``bytes``), compiled when first needed: a
    quick-reject one, and a lookahead one that finds overlapping matches too (only compiled
    once a text holds a secret). A race compiles twice, which is harmless."""

    def __init__(
        self, forms: list[Form], render: Callable[[str], str], encode: Callable[[str], _T]
    ) -> None:
        self._forms = forms
        self._render = render
        self._encode: Callable[[str], _T] = encode
        self._body: str | None = None
        self._search: re.Pattern[_T] | None = None
        self._overlaps: re.Pattern[_T] | None = None

    def apply(self, text: _T, mask: _T) -> _T:
        if not self._forms:
            return text
        if self._search is None:
            self._body = trie_pattern(self._forms, self._render)
            self._search = re.compile(self._encode(self._body))
        first = self._search.search(text)
        if first is None:
            return text
        if self._overlaps is None:
            self._overlaps = re.compile(self._encode(f"(?=({self._body}))"))
        return _mask(self._overlaps, text, first.start(), mask)


def _mask(overlaps: re.Pattern[_T], text: _T, first: int, mask: _T) -> _T:
    spans: list[list[int]] = []
    for match in overlaps.finditer(text, first):
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
