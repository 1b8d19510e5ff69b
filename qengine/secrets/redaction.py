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
        # Wrapped base64 forms make most of the pattern's size: they get patterns of their own,
        # used only on text that holds a line break, so one-line text never compiles them.
        unwrapped = sorted({tuple(e for e in form if e != WRAP) for form in forms})
        wrapped = sorted(form for form in forms if WRAP in form)
        self._text: tuple[_Lazy[str], _Lazy[str]] = (
            _Lazy(unwrapped, _render_text, _same),
            _Lazy(wrapped, _render_text, _same),
        )
        self._bytes: tuple[_Lazy[bytes], _Lazy[bytes]] = (
            _Lazy(unwrapped, _render_bytes, _latin1),
            _Lazy(wrapped, _render_bytes, _latin1),
        )

    def __repr__(self) -> str:
        return "Redactor(...)"

    def redact(self, text: AnyStr) -> AnyStr:
        """Return ``text`` with every covered form of every secret replaced by ``***``."""
        if isinstance(text, str):
            return _redacted(self._text, text, MASK, "\n")
        return _redacted(self._bytes, text, MASK.encode(), b"\n")

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


def _same(body: str) -> str:
    return body


def _redacted(patterns: tuple[_Lazy[_T], _Lazy[_T]], text: _T, mask: _T, newline: _T) -> _T:
    plain, wrapped = patterns
    spans = plain.spans(text)
    if text.find(newline, 0, len(text) - 1) >= 0:  # a break inside: a form may be wrapped
        spans += wrapped.spans(text)
    return _masked(text, spans, mask) if spans else text


class _Lazy(Generic[_T]):
    """The two patterns of a set of forms in one domain (``str`` or ``bytes``), compiled when
    first needed: a quick-reject one, and a lookahead one that finds overlapping matches too
    (only compiled once a text holds a secret). A race compiles twice, which is harmless."""

    def __init__(
        self, forms: list[Form], render: Callable[[str], str], encode: Callable[[str], _T]
    ) -> None:
        self._forms = forms
        self._render = render
        self._encode: Callable[[str], _T] = encode
        self._body: str | None = None
        self._search: re.Pattern[_T] | None = None
        self._overlaps: re.Pattern[_T] | None = None

    def spans(self, text: _T) -> list[tuple[int, int]]:
        """Where the forms match in ``text`` (overlapping matches included), in order."""
        if not self._forms:
            return []
        if self._search is None:
            self._body = trie_pattern(self._forms, self._render)
            self._search = re.compile(self._encode(self._body))
        first = self._search.search(text)
        if first is None:
            return []
        if self._overlaps is None:
            self._overlaps = re.compile(self._encode(f"(?=({self._body}))"))
        return [
            (match.start(), match.start() + len(match.group(1)))
            for match in self._overlaps.finditer(text, first.start())
        ]


def _masked(text: _T, found: list[tuple[int, int]], mask: _T) -> _T:
    """``text`` with the union of the ``found`` spans replaced by one ``mask`` each."""
    spans: list[list[int]] = []
    for start, end in sorted(found):
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
