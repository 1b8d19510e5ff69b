"""Finding every secret reference in a structured job, with its ``$.path``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import attrs

from qengine.spec._common import SecretRef
from qengine.spec._values import HelmValues

_JSON_NAMES = {"api_version": "apiVersion"}


def secret_references(node: object, path: str = "$") -> Iterator[tuple[str, str]]:
    """Yield ``(path, secret name)`` for each ``{"secret": name}`` under ``node``.

    The job's own ``secrets`` and ``signature`` sections hold no references and are skipped.
    """
    if isinstance(node, SecretRef):
        yield path, node.secret
    elif isinstance(node, HelmValues):
        for relative, ref in node.secret_refs():
            yield path + relative, ref.secret
    elif attrs.has(type(node)):
        for field in attrs.fields(type(node)):  # type: ignore[arg-type]
            if field.name in ("secrets", "signature"):
                continue
            name = _JSON_NAMES.get(field.name, field.name)
            yield from secret_references(getattr(node, field.name), f"{path}.{name}")
    elif isinstance(node, tuple):
        for index, child in enumerate(node):
            yield from secret_references(child, f"{path}[{index}]")
    elif isinstance(node, Mapping):
        for key, child in node.items():
            yield from secret_references(child, f"{path}.{key}")
