"""qengine-kubernetes passes the plugin contract suite, running the quickstart in a sandbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from k8s_support import DEMO_SECRETS, QUICKSTART

from qengine.testing.plugin_contract import PluginContract


class TestKubernetesPluginContract(PluginContract):
    plugin_name = "kubernetes"
    sdk_modules = ("kubernetes",)
    job_sandbox = True
    job_secrets: ClassVar[Mapping[str, str] | None] = DEMO_SECRETS

    def job_document(self, tmp_path: Path) -> dict[str, object]:
        """The quickstart: a ``sandbox`` target, on the session's simulator."""
        document: dict[str, object] = json.loads(QUICKSTART.read_text())
        return document
