"""Fixtures of the GCP plugin's tests: a local Cloud Storage (fake-gcs-server) on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from qengine_gcp.local_gcs import LocalGcs


@pytest.fixture(scope="session")
def local_gcs() -> Iterator[LocalGcs]:
    """One fake-gcs-server (in memory) for the session; tests use buckets of their own."""
    with LocalGcs() as gcs:
        yield gcs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) the real-GCP tier unless QENGINE_TEST_GCP=1 asks for it."""
    if os.environ.get("QENGINE_TEST_GCP") == "1":
        return
    real = [item for item in items if item.get_closest_marker("real_cloud")]
    if real:
        config.hook.pytest_deselected(items=real)
        items[:] = [item for item in items if not item.get_closest_marker("real_cloud")]
