"""Fixtures for the runner's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from qengine.testing.events import RecordingSink
from qengine.testing.steps import StepFactory


@pytest.fixture
def factory() -> StepFactory:
    return StepFactory()


@pytest.fixture
def collector() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"
