"""The Bearer challenge flow against a real registry configured for token authentication."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from oci_support import PASSWORD, USER, push_image
from qengine_oci.registry import OciContainerRegistry
from qengine_oci.spec import OciRegistry

from qengine import AuthError
from qengine.secrets.value import SecretValue
from qengine.spec import SecretName, SecretRef, Url
from qengine.testing.registry import LocalRegistry, run_registry
from qengine.testing.token_server import TokenServer, serve_tokens


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalRegistry, TokenServer]]:
    directory: Path = tmp_path_factory.mktemp("token")
    with (
        serve_tokens(directory, USER, PASSWORD) as tokens,
        run_registry(directory, token=tokens) as registry,
    ):
        yield registry, tokens


def _registry(registry: LocalRegistry, password: str) -> OciContainerRegistry:
    spec = OciRegistry(
        kind="oci",
        url=Url(registry.url),
        username=USER,
        password=SecretRef(secret=SecretName("p")),
        insecure=True,
    )
    return OciContainerRegistry(spec, password=SecretValue(password))


def test_bearer_tokens_are_fetched_and_reused(
    token_registry: tuple[LocalRegistry, TokenServer],
) -> None:
    registry, tokens = token_registry
    oci = _registry(registry, PASSWORD)
    assert not oci.image_exists("tok/app", "v1")
    digest = push_image(oci.client, "tok/app", "v1")
    assert oci.digest_of("tok/app", "v1") == digest
    issued = tokens.issued
    assert issued >= 2  # one for pull, one for pull,push
    for _ in range(3):
        assert oci.image_exists("tok/app", "v1")
    assert tokens.issued == issued  # the pull token of this scope is reused


def test_refused_token_request_is_an_auth_error(
    token_registry: tuple[LocalRegistry, TokenServer],
) -> None:
    registry, _tokens = token_registry
    with pytest.raises(AuthError) as info:
        _registry(registry, "bad-password-x").image_exists("tok/app", "v1")
    assert "token service" in info.value.message
    assert "bad-password-x" not in str(info.value)
