"""What the plugin registers, and that registering imports no SDK."""

from __future__ import annotations

import subprocess
import sys

from qengine_aws.ecr import EcrContainerRegistry
from qengine_aws.kms_keys import KmsKeyProvider
from qengine_aws.route53 import Route53DnsProvider

from qengine import load_plugins


def test_factories_return_the_implementations() -> None:
    registry = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"}).registry
    assert registry.get("container registry", "ecr").factory() is EcrContainerRegistry
    assert registry.get("DNS provider", "route53").factory() is Route53DnsProvider
    assert registry.get("key provider", "aws-kms").factory() is KmsKeyProvider


def test_implementation_modules_import_no_sdk() -> None:
    modules = ["ecr", "route53", "kms_keys", "token", "credentials", "state_backend", "blueprint"]
    script = (
        "import sys\n"
        + "".join(f"import qengine_aws.{m}\n" for m in modules)
        + "print('boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
