"""Shared fixtures of the core test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from qengine import PluginSet, load_plugins

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def plugins() -> PluginSet:
    """The first-party plugins, loaded through their entry points as a user's would be."""
    return load_plugins(strict=True, environ={})
