"""Fixtures of the buildah plugin's tests: real registries and a busybox base image."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from buildah_support import PASSWORD, USER

from qengine.testing.images import push_busybox_base
from qengine.testing.registry import LocalRegistry, run_registry


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with run_registry(tmp_path_factory.mktemp("plain")) as registry:
        yield registry


@pytest.fixture(scope="module")
def secure_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    directory = tmp_path_factory.mktemp("secure")
    with run_registry(directory, tls=True, username=USER, password=PASSWORD) as registry:
        yield registry


@pytest.fixture(scope="module")
def base_image(plain_registry: LocalRegistry) -> str:
    return push_busybox_base(plain_registry.host)
