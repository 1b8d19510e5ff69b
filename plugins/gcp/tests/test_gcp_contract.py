"""qengine-gcp passes the plugin contract suite: its example cluster job, in the sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from gcp_support import example

from qengine.testing.plugin_contract import PluginContract


@pytest.mark.slow
class TestGcpPluginContract(PluginContract):
    plugin_name = "gcp"
    sdk_modules = ("google", "google.auth", "google.cloud.storage", "google.cloud.container_v1")
    # A local Cloud Storage and the stand-in cluster: the only way to run a GCP job offline.
    job_sandbox = True

    def job_document(self, tmp_path: Path) -> Mapping[str, object]:
        return example()
