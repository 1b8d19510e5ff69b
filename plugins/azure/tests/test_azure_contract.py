"""qengine-azure passes the plugin contract suite (loading, registration, schema, no SDK)."""

from __future__ import annotations

from qengine.testing.plugin_contract import PluginContract


class TestAzurePluginContract(PluginContract):
    plugin_name = "azure"
    sdk_modules = ("azure",)
    no_job_reason = "the AKS lifecycle (Terraform, sandbox) is not built yet"
