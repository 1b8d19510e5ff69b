"""The PostgreSQL store passes the shared store contract against a real PostgreSQL server."""

from __future__ import annotations

import pytest

from qengine.runner.pgstore import PostgresStateStore
from qengine.testing.postgres import LocalPostgres
from state.contract import OpenStore, StoreContract


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def open_store(self, postgres: LocalPostgres, pg_url: str) -> OpenStore:
        return lambda: PostgresStateStore(
            pg_url, password_file=postgres.password_file, lock_poll_seconds=0.05
        )
