"""A build request with what the core interface does not carry yet: secret build arguments
and registry caches."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from qengine.interfaces.build import BuildRequest
from qengine.secrets.value import SecretValue


@attrs.frozen(kw_only=True)
class SourceBuildRequest(BuildRequest):
    """``build_args`` are plain (``--build-arg``); ``secret_args`` reach the build only as
    build secrets (``RUN --mount=type=secret,id=NAME``), never as layers, history or logs.

    ``cache_from`` / ``cache_to`` are registry repositories for the layer cache.
    ``tls_verify`` false allows plain HTTP or unverified TLS to the registries;
    ``ca_pem`` is a CA (PEM) the registries' certificates chain to.
    """

    secret_args: Mapping[str, SecretValue] = attrs.field(factory=dict, repr=False)
    cache_from: str | None = None
    cache_to: str | None = None
    tls_verify: bool = True
    ca_pem: str | None = None
