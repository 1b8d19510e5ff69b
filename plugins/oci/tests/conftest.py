"""Fixtures of the OCI plugin's tests: real Distribution registries on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from oci_support import PASSWORD, USER

from qengine.testing.registry import LocalRegistry, run_registry


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with run_registry(tmp_path_factory.mktemp("plain")) as registry:
        yield registry


@pytest.fixture(scope="module")
def secure_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    directory: Path = tmp_path_factory.mktemp("secure")
    with run_registry(directory, tls=True, username=USER, password=PASSWORD) as registry:
        yield registry
