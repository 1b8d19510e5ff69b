"""qengine-oci passes the plugin contract suite."""

from qengine.testing.plugin_contract import PluginContract


class TestOciPluginContract(PluginContract):
    plugin_name = "oci"
