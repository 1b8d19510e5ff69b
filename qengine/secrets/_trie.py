"""A regular expression matching any of many literal strings, built as a prefix trie.

``re`` tries the branches of a flat alternation one after another at every position; a trie
shares prefixes, so each position follows a single path. With thousands of literals (every
encoded form of every secret of a job) this is the difference between seconds and
milliseconds. At a given position the longest literal wins: child branches are tried before
the end of a shorter literal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_END = ""
_Node = dict[str, "_Node"]


def trie_pattern(literals: Iterable[str]) -> str:
    """A regex (``str``) that matches exactly the given non-empty literals, longest first."""
    root: _Node = {}
    for literal in literals:
        node = root
        for char in literal:
            node = node.setdefault(char, {})
        node[_END] = {}
    return _render(root)


def _render(node: _Node) -> str:
    branches = [_render_branch(char, child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if _END in node else body


def _render_branch(char: str, node: _Node) -> str:
    # Follow runs without a choice iteratively: recursion depth is the number of branch
    # points, not the length of the longest literal (a PEM key is thousands of characters).
    chain = [char]
    while len(node) == 1 and _END not in node:
        ((char, node),) = node.items()
        chain.append(char)
    return re.escape("".join(chain)) + _render(node)
