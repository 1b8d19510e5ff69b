"""Fixtures of the GCP plugin's tests: a local Cloud Storage (fake-gcs-server) on 127.0.0.1,
and the sandbox's Artifact Registry data plane."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from gcp_support import Plane, artifact_registry_plane
from qengine_gcp.local_gcs import LocalGcs

from qengine.testing.helm import HelmUnavailableError, helm_in_environ

CHECKOUT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session", autouse=True)
def _helm_for_the_addon_stack() -> Iterator[None]:
    """Infrastructure jobs install the add-on stack with the real helm, and their preflight
    refuses a host without one (:func:`qengine.testing.helm.helm_in_environ`)."""
    try:
        with helm_in_environ(CHECKOUT):
            yield
    except HelmUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def local_gcs() -> Iterator[LocalGcs]:
    """One fake-gcs-server (in memory) for the session; tests use buckets of their own."""
    with LocalGcs() as gcs:
        yield gcs


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[Plane]:
    """The sandbox's Artifact Registry data plane, its registry under ``tmp_path``."""
    with artifact_registry_plane(tmp_path / "registry") as plane:
        yield plane


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) the real-GCP tier unless QENGINE_TEST_GCP=1 asks for it."""
    if os.environ.get("QENGINE_TEST_GCP") == "1":
        return
    real = [item for item in items if item.get_closest_marker("real_cloud")]
    if real:
        config.hook.pytest_deselected(items=real)
        items[:] = [item for item in items if not item.get_closest_marker("real_cloud")]
