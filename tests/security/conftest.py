"""Fixtures for the security core's tests: real key files in a temporary state directory."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from qengine.secrets.local_keys import LocalKeyProvider, create_key


@pytest.fixture
def keys_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """A key directory holding key ``default`` (random, version 1)."""
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o700)
    create_key(directory)
    return directory


@pytest.fixture
def provider(keys_dir: pathlib.Path) -> LocalKeyProvider:
    """The local provider over ``keys_dir``."""
    return LocalKeyProvider(keys_dir)


@pytest.fixture
def job() -> dict[str, Any]:
    """A JSON job referencing three secrets, one of them twice."""
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "job-0001",
        "organization": {"id": "org-a"},
        "actor": {"id": "actor-7f3a"},
        "not_after": "2030-01-01T00:00:00Z",
        "registry": {"kind": "oci", "password": {"secret": "registry-password"}},
        "services": [
            {"name": "api", "env": {"DB_PASSWORD": {"secret": "db-password"}}},
            {"name": "worker", "env": {"DB_PASSWORD": {"secret": "db-password"}}},
            {"name": "site", "git": {"token": {"secret": "git-token"}}},
        ],
    }


@pytest.fixture
def plaintext() -> dict[str, str]:
    """Values for the secrets the ``job`` fixture references, plus one it does not."""
    return {
        "registry-password": "r3g!stry pass/word+=",
        "db-password": "db-Pa55\"quoted'\n",
        "git-token": "ghp_0123456789abcdefABCDEF",
        "unused": "never-sealed-value",
    }
