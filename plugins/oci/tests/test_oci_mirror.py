"""Mirroring by digest with the real skopeo between two real registries."""

from __future__ import annotations

import pytest
from oci_support import PASSWORD, USER, push_image, push_index
from qengine_oci.mirror import mirror_image
from qengine_oci.registry import OciContainerRegistry
from qengine_oci.spec import OciRegistry

from qengine import InvalidInputError
from qengine.interfaces.cancel import CancelToken
from qengine.secrets.value import SecretValue
from qengine.spec import SecretName, SecretRef, Url
from qengine.testing.registry import LocalRegistry


def _destination(registry: LocalRegistry) -> OciContainerRegistry:
    spec = OciRegistry(
        kind="oci",
        url=Url(registry.url),
        username=USER,
        password=SecretRef(secret=SecretName("p")),
        ca_certificate=registry.ca_pem,
    )
    return OciContainerRegistry(spec, password=SecretValue(PASSWORD))


@pytest.mark.parametrize("index", [False, True])
def test_mirrors_by_digest(
    plain_registry: LocalRegistry, secure_registry: LocalRegistry, index: bool
) -> None:
    source = OciContainerRegistry(
        OciRegistry(kind="oci", url=Url(plain_registry.url), insecure=True)
    )
    repository = f"upstream/tool{'-index' if index else ''}"
    digest = (push_index if index else push_image)(source.client, repository, "1.0")
    destination = _destination(secure_registry)
    lines: list[str] = []
    reference = mirror_image(
        f"{plain_registry.host}/{repository}@{digest}",
        destination,
        "mirror/tool",
        cancel=CancelToken(),
        on_line=lines.append,
        source_tls_verify=False,
    )
    assert reference == f"{secure_registry.host}/mirror/tool@{digest}"
    assert destination.digest_of("mirror/tool", digest) == digest
    assert not any(PASSWORD in line for line in lines)
    requests = destination.client.requests
    again = mirror_image(
        f"{plain_registry.host}/{repository}@{digest}",
        destination,
        "mirror/tool",
        cancel=CancelToken(),
        on_line=lines.append,
        source_tls_verify=False,
    )
    assert again == reference
    assert destination.client.requests - requests == 1  # one HEAD, no copy


def test_unpinned_source_is_refused(secure_registry: LocalRegistry) -> None:
    with pytest.raises(InvalidInputError) as info:
        mirror_image(
            "127.0.0.1:1/upstream/tool:latest",
            _destination(secure_registry),
            "mirror/tool",
            cancel=CancelToken(),
            on_line=print,
        )
    assert "digest" in (info.value.hint or "")
