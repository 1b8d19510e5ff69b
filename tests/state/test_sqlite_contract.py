"""The SQLite store (the default) passes the shared store contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from qengine.runner import SqliteStateStore
from state.contract import OpenStore, StoreContract


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> OpenStore:
        return lambda: SqliteStateStore(tmp_path / "state", lock_poll_seconds=0.05)
