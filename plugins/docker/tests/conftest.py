"""Fixtures of the docker plugin's tests: a registry, a base image, a Podman API service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qengine.testing.images import push_busybox_base
from qengine.testing.podman import run_podman_service
from qengine.testing.registry import LocalRegistry, run_registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with run_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="module")
def base_image(registry: LocalRegistry) -> str:
    return push_busybox_base(registry.host)


@pytest.fixture(scope="module")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everything the Podman service stores: storage, temporary files, its log."""
    return tmp_path_factory.mktemp("podman")


@pytest.fixture(scope="module")
def engine_host(engine_dir: Path, registry: LocalRegistry) -> Iterator[str]:
    with run_podman_service(engine_dir, [registry.host]) as host:
        yield host
