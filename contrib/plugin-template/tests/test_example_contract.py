"""The template passes the engine's plugin contract suite."""

from qengine.testing.plugin_contract import PluginContract


class TestExamplePluginContract(PluginContract):
    plugin_name = "example"
    sdk_modules = ("qengine_example.engine",)
