"""qengine-kubernetes passes the plugin contract suite."""

from qengine.testing.plugin_contract import PluginContract


class TestKubernetesPluginContract(PluginContract):
    plugin_name = "kubernetes"
    sdk_modules = ("kubernetes",)
