"""Fixtures of the Azure plugin's tests: Azurite (npm) installed once, the real-Azure tier
deselected unless asked for."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qengine.testing.helm import HelmUnavailableError, helm_in_environ

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "get-azurite.sh"

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
def azurite_binary() -> Path:
    """Azurite's blob launcher, installed under .tools/ by the plugin's script if missing
    (npm; the first run takes about a minute). Also given to CLI runs as QENGINE_AZURITE."""
    found = os.environ.get("QENGINE_AZURITE")
    if found:
        return Path(found)
    result = subprocess.run(
        ["bash", str(_SCRIPT)], capture_output=True, text=True, check=False, timeout=600
    )
    assert result.returncode == 0, f"installing Azurite failed: {result.stderr}"
    return Path(result.stdout.strip().splitlines()[-1])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) the real-Azure tier unless QENGINE_TEST_AZURE=1 asks for it."""
    if os.environ.get("QENGINE_TEST_AZURE") == "1":
        return
    real = [item for item in items if item.get_closest_marker("real_cloud")]
    if real:
        config.hook.pytest_deselected(items=real)
        items[:] = [item for item in items if not item.get_closest_marker("real_cloud")]
