"""Stand-ins for secret values and built images, for renders that must not hold values.

A plan or an export renders with :func:`secret_token` as ``open_secret``: each secret becomes
``qengine-placeholder-secrets-<hex of its name>-end``, a token that is a plain YAML scalar, can
be found again in serialised output, and carries no part of the value.
"""

from __future__ import annotations

import re

# Not a valid secret name (a ':'), so no sealed secret of a job can be mistaken for it.
REGISTRY_PULL = "registry:dockerconfigjson"

_TOKEN = re.compile(r"qengine-placeholder-(secrets|images)-([0-9a-f]+)-end")


def secret_token(name: str) -> str:
    """The placeholder of secret ``name``."""
    return f"qengine-placeholder-secrets-{name.encode().hex()}-end"


def registry_pull_token() -> str:
    """The placeholder of a whole ``.dockerconfigjson`` made from a registry's short-lived
    token (see :mod:`qengine_kubernetes.pulltoken`); an export asks for it as the value
    ``secrets.registry:dockerconfigjson``."""
    return secret_token(REGISTRY_PULL)


def image_token(service: str) -> str:
    """The placeholder of the image built for ``service``."""
    return f"qengine-placeholder-images-{service.encode().hex()}-end"


def find_tokens(text: str) -> list[tuple[str, str, str]]:
    """(token, group, name) of each placeholder in ``text``; group is secrets or images."""
    return [
        (m.group(0), m.group(1), bytes.fromhex(m.group(2)).decode()) for m in _TOKEN.finditer(text)
    ]


def is_token(text: str) -> bool:
    """Whether ``text`` is exactly one placeholder."""
    return _TOKEN.fullmatch(text) is not None
