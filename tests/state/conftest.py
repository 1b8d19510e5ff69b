"""A throwaway PostgreSQL server for the state store tests, one per test session.

Each test gets a database of its own on it, so tests never see each other's rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qengine.testing.postgres import LocalPostgres, run_postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    with run_postgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres: LocalPostgres) -> str:
    """The URL of a new, empty database (no password in it)."""
    return postgres.new_database()
