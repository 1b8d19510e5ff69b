"""qengine-addons, as the plugin of the ``existing`` provider, passes the plugin contract
suite: the example's job, in the sandbox (the simulator plays the cluster; the real helm
installs the test charts)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from qengine.testing.plugin_contract import PluginContract

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "existing-cluster" / "job.json"


@pytest.mark.slow
@pytest.mark.usefixtures("helm_on_host")
class TestExistingPluginContract(PluginContract):
    plugin_name = "addons"
    # Loading the plugin imports neither the stack's client nor its helm runner nor YAML.
    sdk_modules = ("qengine_kubernetes", "yaml", "kubernetes")
    # The simulator is the only cluster here.
    job_sandbox = True

    def job_document(self, tmp_path: Path) -> Mapping[str, object]:
        document: dict[str, object] = json.loads(EXAMPLE.read_text())
        return document
