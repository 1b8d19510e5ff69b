"""qengine-aws passes the plugin contract suite."""

from qengine.testing.plugin_contract import PluginContract


class TestAwsPluginContract(PluginContract):
    plugin_name = "aws"
    sdk_modules = ("boto3", "botocore")
