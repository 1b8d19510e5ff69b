"""A regular expression matching any of many forms, built as a prefix trie.

``re`` tries the branches of a flat alternation one after another at every position; a trie
shares prefixes, so each position follows a single path. With thousands of forms (every
encoded form of every secret of a job) this is the difference between seconds and
milliseconds. At a given position the longest form wins: child branches are tried before
the end of a shorter form.

A form is a sequence of elements (see :mod:`qengine.secrets._encodings`): a literal character
or a flexible element. ``render`` turns each element into a regex fragment; every fragment it
returns matches a bounded number of characters with bounded choices, so the pattern stays
linear in the text (no nested repetition).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

_END = ""
_Node = dict[str, "_Node"]
Render = Callable[[str], str]


def trie_pattern(forms: Iterable[Sequence[str]], render: Render) -> str:
    """A regex that matches exactly the given non-empty forms, longest first."""
    root: _Node = {}
    for form in forms:
        node = root
        for element in form:
            node = node.setdefault(element, {})
        node[_END] = {}
    return _render(root, render)


def _render(node: _Node, render: Render) -> str:
    branches = [
        _render_branch(element, child, render) for element, child in sorted(node.items()) if element
    ]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if _END in node else body


def _render_branch(element: str, node: _Node, render: Render) -> str:
    # Follow runs without a choice iteratively: recursion depth is the number of branch
    # points, not the length of the longest form (a PEM key is thousands of characters).
    chain = [render(element)]
    while len(node) == 1 and _END not in node:
        ((element, node),) = node.items()
        chain.append(render(element))
    return "".join(chain) + _render(node, render)
