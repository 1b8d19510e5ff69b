"""qengine-azure passes the plugin contract suite: its example cluster job, in the sandbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from azure_support import EXAMPLE_SECRETS, example

from qengine.testing.plugin_contract import PluginContract


@pytest.mark.slow
@pytest.mark.usefixtures("azurite_binary")
class TestAzurePluginContract(PluginContract):
    plugin_name = "azure"
    sdk_modules = ("azure",)
    # Azurite, the stand-in Resource Manager and the stand-in cluster: the only way to run an
    # Azure job offline.
    job_sandbox = True
    job_secrets = json.loads(EXAMPLE_SECRETS.read_text())

    def job_document(self, tmp_path: Path) -> Mapping[str, object]:
        return example()
