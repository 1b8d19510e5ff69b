"""Reading a job document safely: size and nesting limits, strict JSON.

The limits are checked before the document can cost much: the size before the file is read,
the nesting while it is parsed. Duplicate keys and non-finite numbers are refused, since two
readers of the same JSON could disagree about them (a signature covers one reading).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from qengine._errors import InvalidInputError, SpecError, SpecIssue

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
MAX_STRING_CHARS = 1024 * 1024
MAX_KEY_CHARS = 1024
MAX_STRING_ISSUES = 20
MAX_INTEGER = 2**53 - 1
# Control characters other than tab, line feed and carriage return, DEL and the C1 range, and
# lone surrogates (which JSON's \u escapes can produce): none belongs in a job spec, and each
# can hide text on a terminal or break a tool that reads the value.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed in a job spec")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _depth(document: object) -> int:
    deepest, stack = 0, [(document, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_document(
    text: str | bytes, source: str = "<input>", what: str = "the job"
) -> dict[str, object]:
    """Parse a document (``what``: a job by default): a JSON object within the limits."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise _too_large(source)
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except RecursionError:
        raise SpecError([SpecIssue("$", f"nests deeper than {MAX_DEPTH} levels")]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{source} is not valid JSON: {exc}", hint="Check the file is a JSON document."
        ) from None
    if not isinstance(document, dict):
        if what != "the job":
            raise InvalidInputError(f"{what} {source} must hold a JSON object")
        raise SpecError([SpecIssue("$", "must be a JSON object (the job)")])
    if _depth(document) > MAX_DEPTH:
        raise SpecError([SpecIssue("$", f"nests deeper than {MAX_DEPTH} levels")])
    return document


def read_document(path: Path, what: str = "the job") -> dict[str, object]:
    """Read and parse the document at ``path`` (``-`` is not special here)."""
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise _too_large(str(path))
        with path.open("rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from None
    return parse_document(data, str(path), what)


def _too_large(source: str) -> InvalidInputError:
    return InvalidInputError(
        f"{source} is larger than the limit of {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB",
        hint="A job spec is small; check the right file was given.",
    )


def string_issues(document: object) -> list[SpecIssue]:
    """Strings and keys that are too long or hold forbidden characters, and integers beyond
    +/-(2^53 - 1), with their paths (at most ``MAX_STRING_ISSUES``). Iterative and linear in
    the document's size."""
    issues: list[SpecIssue] = []
    for path, text, is_key in _strings(document):
        if text is None:
            issues.append(SpecIssue(path, f"a number beyond +/-{MAX_INTEGER} (2^53 - 1)"))
            continue
        limit = MAX_KEY_CHARS if is_key else MAX_STRING_CHARS
        what = "a key" if is_key else "a string"
        if len(text) > limit:
            issues.append(SpecIssue(path, f"{what} longer than {limit} characters"))
        elif (bad := _FORBIDDEN.search(text)) is not None:
            code = f"U+{ord(bad.group()):04X}"
            issues.append(
                SpecIssue(
                    path,
                    f"{what} holding a control character or a lone "
                    f"surrogate ({code} at offset {bad.start()})",
                )
            )
        if len(issues) >= MAX_STRING_ISSUES:
            break
    return issues


def _strings(document: object) -> Iterator[tuple[str, str | None, bool]]:
    stack: list[tuple[str, object]] = [("$", document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            yield path, node, False
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > MAX_INTEGER:
            yield path, None, False  # a number out of range
        elif isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    continue
                safe = key if len(key) <= 64 and not _FORBIDDEN.search(key) else "<key>"
                child = f"{path}.{safe}"
                yield child, key, True
                stack.append((child, value))
        elif isinstance(node, list | tuple):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(node))
