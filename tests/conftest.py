"""Shared fixtures of the core test suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from qengine import PluginSet, load_plugins

ROOT = Path(__file__).resolve().parent.parent


# The plugins of ``plugins/``: a third party's installed beside them (the plugin template, say)
# must not change what the core suite sees.
FIRST_PARTY = ("addons", "aws", "azure", "buildah", "docker", "gcp", "kubernetes", "oci")


@pytest.fixture(scope="session")
def plugins() -> PluginSet:
    """The first-party plugins, loaded through their entry points as a user's would be."""
    return load_plugins(strict=True, environ={"QENGINE_PLUGINS": ",".join(FIRST_PARTY)})


# Hypothesis' per-example deadline measures the machine's load as much as the code: under a
# parallel CI run a fast property can exceed it. Examples are still bounded by max_examples.
settings.register_profile("qengine", deadline=None)
settings.load_profile("qengine")
