"""The ``oci`` registry section."""

from __future__ import annotations

from typing import Literal

import attrs

from qengine.spec import RegistrySpec, SecretRef, Url


@attrs.frozen(kw_only=True)
class OciRegistry(RegistrySpec):
    """Any OCI Distribution registry.

    ``url`` is its base URL (``https://registry.example.com``); images are pushed to
    ``host/repository_prefix/<service>``. ``insecure`` allows plain HTTP and unverified TLS
    (for a registry on a trusted network only); ``ca_certificate`` is a PEM CA to trust.

    :ivar url: The registry's base URL, e.g. ``https://registry.example.com``.
    :ivar username: The user name to push with.
    :ivar password: A secret reference to the password or token.
    :ivar repository_prefix: The path under the host images are pushed to
        (``host/repository_prefix/<service>``).
    :ivar insecure: Whether plain HTTP and unverified TLS are allowed (a registry on a trusted
        network only).
    :ivar ca_certificate: A PEM CA certificate to trust for the registry.
    """

    kind: Literal["oci"]
    url: Url
    username: str | None = None
    password: SecretRef | None = None
    repository_prefix: str = ""
    insecure: bool = False
    ca_certificate: str | None = None
