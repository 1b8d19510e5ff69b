"""Free-form configuration trees (Helm values) that may hold secret references."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TypeAlias

import attrs

from qengine.spec._common import SecretRef
from qengine.spec._scalars import SecretName

JsonScalar: TypeAlias = str | int | float | bool | None
ValueTree: TypeAlias = JsonScalar | SecretRef | tuple["ValueTree", ...] | Mapping[str, "ValueTree"]

# A string that would start a new YAML mapping entry or document if it were ever pasted into
# YAML: refused so a value cannot smuggle objects into a rendered manifest. Any YAML line
# break starts a line; each try reads at most one line, so the search is linear in the value.
_YAML_INJECTION = re.compile(r"[\r\n\x85\u2028\u2029][ \t]*(?:---|\.\.\.|[-\w.\"']+[ \t]*:)")
MAX_VALUE_DEPTH = 32


class ValueTreeError(ValueError):
    """Problems in a value tree, each with its path relative to the tree's root."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


def _is_secret_ref(node: object) -> bool:
    return isinstance(node, Mapping) and set(node) == {"secret"}


def _walk(node: object, path: str, depth: int, problems: list[tuple[str, str]]) -> ValueTree:
    if depth > MAX_VALUE_DEPTH:
        problems.append((path, f"nests deeper than {MAX_VALUE_DEPTH} levels"))
        return None
    if _is_secret_ref(node):
        assert isinstance(node, Mapping)
        return SecretRef(secret=SecretName(str(node["secret"])))
    if isinstance(node, Mapping):
        return {str(k): _walk(v, f"{path}.{k}", depth + 1, problems) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return tuple(_walk(v, f"{path}[{i}]", depth + 1, problems) for i, v in enumerate(node))
    if isinstance(node, str) and _YAML_INJECTION.search(node):
        problems.append(
            (
                path,
                "contains a line break followed by YAML structure; "
                "put multi-line content in a secret or a mounted file",
            )
        )
    elif not isinstance(node, str | int | float | bool | None):
        problems.append((path, f"has a value of type {type(node).__name__}, not JSON"))
    return node  # type: ignore[return-value]


@attrs.frozen
class HelmValues:
    """A tree of chart values (objects, arrays, scalars and ``{"secret": name}`` references)."""

    tree: Mapping[str, ValueTree] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, data: object) -> HelmValues:
        """Check ``data`` (parsed JSON) and wrap it; raise :class:`ValueTreeError` if invalid."""
        if not isinstance(data, Mapping):
            raise ValueTreeError([("", "must be an object")])
        problems: list[tuple[str, str]] = []
        tree = _walk(data, "", 0, problems)
        if problems:
            raise ValueTreeError(problems)
        assert isinstance(tree, Mapping)
        return cls(tree)

    def secret_refs(self) -> Iterator[tuple[str, SecretRef]]:
        """Each secret reference in the tree, with its relative path."""
        yield from _refs(self.tree, "")

    def resolve(self, open_secret: Callable[[str], str]) -> object:
        """The tree as plain JSON data, each secret reference replaced by its opened value."""
        return _resolve(self.tree, open_secret)

    def to_json(self) -> object:
        """The tree as JSON data, secret references kept as ``{"secret": name}``."""
        return _resolve(self.tree, None)


def _refs(node: ValueTree, path: str) -> Iterator[tuple[str, SecretRef]]:
    if isinstance(node, SecretRef):
        yield path, node
    elif isinstance(node, Mapping):
        for key, child in node.items():
            yield from _refs(child, f"{path}.{key}")
    elif isinstance(node, tuple):
        for index, child in enumerate(node):
            yield from _refs(child, f"{path}[{index}]")


def _resolve(node: ValueTree, open_secret: Callable[[str], str] | None) -> object:
    if isinstance(node, SecretRef):
        return {"secret": node.secret} if open_secret is None else open_secret(node.secret)
    if isinstance(node, Mapping):
        return {key: _resolve(child, open_secret) for key, child in node.items()}
    if isinstance(node, tuple):
        return [_resolve(child, open_secret) for child in node]
    return node
