"""qengine-buildah passes the plugin contract suite."""

from qengine.testing.plugin_contract import PluginContract


class TestBuildahPluginContract(PluginContract):
    plugin_name = "buildah"
