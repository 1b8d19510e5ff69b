"""What the plugin registers, and that registering and building its providers imports no SDK."""

from __future__ import annotations

import subprocess
import sys

from aws_support import job_services
from qengine_aws.ecr import EcrContainerRegistry
from qengine_aws.infra_engine import AwsInfraEngine
from qengine_aws.kms_keys import KmsKeyProvider
from qengine_aws.route53 import Route53DnsProvider
from qengine_aws.settings import AwsSettings

from qengine import load_plugins
from qengine.plugin import InfraEngine
from qengine.spec import InfrastructureJob


def test_each_factory_builds_its_implementation_from_the_jobs_section() -> None:
    services = job_services(AwsSettings(endpoint_url="http://127.0.0.1:9"))
    job = services.job
    assert isinstance(job, InfrastructureJob)
    registry = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"}).registry
    engine = registry.build(job.cluster.provider, services, InfraEngine)
    assert isinstance(engine, AwsInfraEngine)
    assert engine.section is job.cluster.provider
    assert isinstance(services.infra_engine(), AwsInfraEngine)
    assert isinstance(services.container_registry(), EcrContainerRegistry)
    assert isinstance(services.dns_provider(), Route53DnsProvider)
    assert isinstance(registry.key_provider("aws-kms", {}), KmsKeyProvider)


def test_no_plugin_step_is_contributed_beside_the_infra_engine() -> None:
    # The steps of an AWS job come from its InfraEngine only (the engine's one path).
    import qengine_aws.plugin

    assert not hasattr(qengine_aws.plugin, "qengine_plan_steps")


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


def test_building_the_providers_and_planning_imports_no_sdk() -> None:
    script = (
        "import sys, aws_support\n"
        "from qengine_aws.settings import AwsSettings\n"
        "services = aws_support.job_services(AwsSettings())\n"
        "steps = services.infra_engine().plan(services.job)\n"
        "services.container_registry(); services.dns_provider()\n"
        "aws_support.load_plugins(environ={'QENGINE_PLUGINS': 'aws'})"
        ".registry.key_provider('aws-kms', {})\n"
        "print(len(steps), 'boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": ":".join(sys.path)},
    )
    # Three steps for the cluster, then the add-on stack's (docs/addons.md): the CRDs, the
    # eight add-ons the example turns on (cluster-autoscaler among them: its node groups
    # autoscale) and the cluster issuers.
    assert result.stdout.strip() == "13 False"


def test_the_guard_protects_the_clusters_state_keys_and_databases() -> None:
    # The core guard protects nothing by itself: these are the AWS plugin's to name.
    from qengine_aws.terraform_run import PROTECTED

    expected = {"aws_eks_cluster", "aws_eks_node_group", "aws_vpc", "aws_s3_bucket"}
    expected |= {"aws_dynamodb_table", "aws_kms_key", "aws_db_instance", "aws_rds_cluster"}
    assert expected <= set(PROTECTED)
    assert "aws_instance" not in PROTECTED
