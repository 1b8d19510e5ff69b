"""qengine-aws passes the plugin contract suite: its example cluster job, in the sandbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from aws_support import EXAMPLE

from qengine.testing.plugin_contract import PluginContract


@pytest.mark.slow
class TestAwsPluginContract(PluginContract):
    plugin_name = "aws"
    sdk_modules = ("boto3", "botocore")
    # moto and the stand-in cluster: the only way to run an AWS job with no cloud.
    job_sandbox = True
    job_secrets = json.loads(EXAMPLE.with_name("secrets.json").read_text())

    def job_document(self, tmp_path: Path) -> Mapping[str, object]:
        document: dict[str, object] = json.loads(EXAMPLE.read_text())
        return document
