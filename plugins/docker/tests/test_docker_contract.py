"""qengine-docker passes the plugin contract suite (and loading it imports no docker-py)."""

from qengine.testing.plugin_contract import PluginContract


class TestDockerPluginContract(PluginContract):
    plugin_name = "docker"
    sdk_modules = ("docker",)
