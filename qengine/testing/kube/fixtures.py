"""pytest fixtures for the simulator, for projects that test against it.

Enable with ``pytest_plugins = ["qengine.testing.kube.fixtures"]`` in a ``conftest.py``.
``kube_sim`` is a running :class:`KubeSimulator` (controllers on, pods Ready after 0.1 s),
stopped at teardown; ``kube_sim_kubeconfig`` is its kubeconfig path. This module imports
pytest, so it is only loaded by test suites that ask for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qengine.testing.kube.simulator import KubeSimulator


@pytest.fixture
def kube_sim() -> Iterator[KubeSimulator]:
    """A running simulator, stopped after the test."""
    with KubeSimulator(readiness_delay=0.1) as simulator:
        yield simulator


@pytest.fixture
def kube_sim_kubeconfig(kube_sim: KubeSimulator) -> Path:
    """The kubeconfig (mode 0600) of ``kube_sim``."""
    return kube_sim.kubeconfig_path
