"""The simulator's public names, and that it needs no Kubernetes client library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import qengine.testing.kube as kube

ROOT = Path(__file__).resolve().parents[2]


def test_all_is_exactly_the_public_names() -> None:
    assert kube.__all__ == [
        "ApiFault",
        "Faults",
        "KubeSimulator",
        "PodFault",
        "RequestRecord",
        "SimClock",
    ]
    public = {name for name in vars(kube) if not name.startswith("_")}
    modules = {name for name in public if type(vars(kube)[name]).__name__ == "module"}
    assert public - modules == set(kube.__all__)


def test_running_the_simulator_imports_no_kubernetes_client_or_yaml() -> None:
    code = (
        "import sys\n"
        "from qengine.testing.kube import KubeSimulator\n"
        "with KubeSimulator() as sim:\n"
        "    pass\n"
        "heavy = ('kubernetes', 'yaml', 'pytest')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert out.stdout.strip() == ""
