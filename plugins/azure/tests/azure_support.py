"""Constants and helpers shared by the Azure plugin's tests (imported as ``azure_support``)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "aks" / "job.json"
EXAMPLES = REPO / "examples" / "aks"
EXAMPLE_SECRETS = EXAMPLES / "secrets.json"
#: The demo client secret of the example: it must never appear in anything the engine writes.
DEMO_SECRET = "sandbox-client-secret-not-real"
QUICKSTART = REPO / "examples" / "quickstart" / "job.json"
TERRAFORMRC = REPO / ".ci" / "terraformrc"


def example() -> dict[str, Any]:
    """A fresh copy of the example AKS job."""
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return copy.deepcopy(data)


def run_qengine(
    tmp: Path,
    *args: str,
    timeout: float = 600,
    plugins: str = "azure,kubernetes",
    azurite: Path | None = None,
    path: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m qengine ARGS`` with only ``plugins`` loaded, in ``tmp`` (``azurite``: the
    launcher a sandbox run uses; ``path``: the PATH, else the tests')."""
    env = {
        "PATH": os.environ.get("PATH", "") if path is None else path,
        "HOME": str(tmp),
        "QENGINE_PLUGINS": plugins,
        "TF_CLI_CONFIG_FILE": str(TERRAFORMRC),
    }
    if azurite is not None:
        env["QENGINE_AZURITE"] = str(azurite)
    if "QENGINE_HELM" in os.environ:  # the helm that installs a sandbox cluster's add-ons
        env["QENGINE_HELM"] = os.environ["QENGINE_HELM"]
    return subprocess.run(
        [sys.executable, "-m", "qengine", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=timeout,
        check=False,
    )
