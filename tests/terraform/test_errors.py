"""The error classifier: diagnostics as Terraform and the AWS provider print them."""

from __future__ import annotations

from pathlib import Path

import pytest

from qengine import (
    AuthError,
    ConflictError,
    InfrastructureError,
    InvalidInputError,
    QengineError,
    QuotaError,
    TransientError,
)
from qengine.terraform import (
    DependencyViolationError,
    Diagnostic,
    StateLockedError,
    TerraformError,
    Workspace,
    classify,
)
from qengine.terraform.errors import parse_lock_info

from .s3backend import S3Backend, data_module, make_driver

_HTTP = "https response error StatusCode: 400, RequestID: 5f2c1a9e-0b1d-4c3e-9a8f-1d2e3f4a5b6c"

# Diagnostics in the shape the AWS provider (v5, aws-sdk-go-v2) reports them.
CASES: list[tuple[str, str, str, type[QengineError]]] = [
    (
        "bad-token",
        "Retrieving AWS account details: validating provider credentials: retrieving caller"
        " identity from STS",
        "operation error STS: GetCallerIdentity, https response error StatusCode: 403,"
        " RequestID: 1b2c, api error InvalidClientTokenId: The security token included in the"
        " request is invalid.",
        AuthError,
    ),
    (
        "expired-token",
        "creating EC2 VPC",
        f"operation error EC2: CreateVpc, {_HTTP}, api error ExpiredToken: The security"
        " token included in the request is expired",
        AuthError,
    ),
    (
        "no-credentials",
        "No valid credential sources found",
        "Please see https://registry.terraform.io/providers/hashicorp/aws for more information"
        " about providing credentials.\n\nError: failed to refresh cached credentials, no EC2"
        " IMDS role found, operation error ec2imds: GetMetadata, request canceled",
        AuthError,
    ),
    (
        "unauthorized",
        "creating EKS Cluster (demo)",
        "operation error EKS: CreateCluster, https response error StatusCode: 403, RequestID:"
        " 9a1b, AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/deployer/"
        "job-1 is not authorized to perform: eks:CreateCluster",
        AuthError,
    ),
    (
        "vpc-limit",
        "creating EC2 VPC",
        f"operation error EC2: CreateVpc, {_HTTP}, api error VpcLimitExceeded: The maximum"
        " number of VPCs has been reached.",
        QuotaError,
    ),
    (
        "eip-limit",
        "creating EC2 EIP",
        f"operation error EC2: AllocateAddress, {_HTTP}, api error AddressLimitExceeded: The"
        " maximum number of addresses has been reached.",
        QuotaError,
    ),
    (
        "vcpu-limit",
        "waiting for EKS Node Group (demo:default) create",
        "unexpected state 'CREATE_FAILED', wanted target 'ACTIVE'. last error: i-0abc:"
        " AsgInstanceLaunchFailures: Could not launch On-Demand Instances. VcpuLimitExceeded -"
        " You have requested more vCPU capacity than your current vCPU limit of 32 allows",
        QuotaError,
    ),
    (
        "iam-quota",
        "attaching IAM Policy to IAM Role (node)",
        "operation error IAM: AttachRolePolicy, https response error StatusCode: 409,"
        " RequestID: 77aa, LimitExceeded: Cannot exceed quota for PoliciesPerRole: 10",
        QuotaError,
    ),
    (
        "cluster-exists",
        "creating EKS Cluster (demo)",
        "operation error EKS: CreateCluster, https response error StatusCode: 409, RequestID:"
        " 3c4d, ResourceInUseException: Cluster already exists with name: demo",
        ConflictError,
    ),
    (
        "role-exists",
        "creating IAM Role (demo-cluster)",
        "operation error IAM: CreateRole, https response error StatusCode: 409, RequestID:"
        " 8e9f, EntityAlreadyExists: Role with name demo-cluster already exists.",
        ConflictError,
    ),
    (
        "bucket-owned",
        "creating S3 Bucket (qengine-state)",
        "operation error S3: CreateBucket, https response error StatusCode: 409, RequestID:"
        " 1a2b, HostID: abc, BucketAlreadyOwnedByYou: ",
        ConflictError,
    ),
    (
        "subnet-dependency",
        "deleting EC2 Subnet (subnet-0a1b2c3d)",
        f"operation error EC2: DeleteSubnet, {_HTTP}, api error DependencyViolation: The"
        " subnet 'subnet-0a1b2c3d' has dependencies and cannot be deleted.",
        DependencyViolationError,
    ),
    (
        "igw-dependency",
        "deleting EC2 Internet Gateway (igw-0a1b)",
        f"operation error EC2: DetachInternetGateway, {_HTTP}, api error DependencyViolation:"
        " Network vpc-0a1b has some mapped public address(es). Please unmap those public"
        " address(es) before detaching the gateway.",
        DependencyViolationError,
    ),
    (
        "bad-cidr-range",
        "creating EC2 Subnet",
        f"operation error EC2: CreateSubnet, {_HTTP}, api error InvalidSubnet.Range: The CIDR"
        " '10.1.0.0/24' is invalid.",
        InvalidInputError,
    ),
    (
        "overlapping-cidr",
        "creating EC2 Subnet",
        f"operation error EC2: CreateSubnet, {_HTTP}, api error InvalidSubnet.Conflict: The"
        " CIDR '10.0.1.0/24' conflicts with another subnet",
        InvalidInputError,
    ),
    (
        "malformed-cidr",
        "expected cidr_block to contain a valid Value, got: 10.0.0.0/33 with err: invalid CIDR"
        " address: 10.0.0.0/33",
        "",
        InvalidInputError,
    ),
    (
        "instance-type",
        "creating EC2 Instance",
        f"operation error EC2: RunInstances, {_HTTP}, api error InvalidParameterValue: Invalid"
        " value 't3.giant' for InstanceType.",
        InvalidInputError,
    ),
    (
        "node-group-instance-type",
        "creating EKS Node Group (demo:default)",
        "operation error EKS: CreateNodegroup, https response error StatusCode: 400, RequestID:"
        " 4e5f, InvalidParameterException: Instance type t3.giant is not supported in"
        " us-east-1",
        InvalidInputError,
    ),
    (
        "throttled",
        "reading EC2 Route Tables",
        f"operation error EC2: DescribeRouteTables, {_HTTP}, api error RequestLimitExceeded:"
        " Request limit exceeded.",
        TransientError,
    ),
    (
        "rate-exceeded",
        "reading EKS Cluster (demo)",
        "operation error EKS: DescribeCluster, https response error StatusCode: 400, RequestID:"
        " 6a7b, api error ThrottlingException: Rate exceeded",
        TransientError,
    ),
    (
        "unsupported-argument",
        "Unsupported argument",
        'An argument named "sizes" is not expected here.',
        TerraformError,
    ),
]


@pytest.mark.parametrize(
    ("summary", "detail", "expected"),
    [pytest.param(s, d, e, id=i) for i, s, d, e in CASES],
)
def test_classifies_provider_diagnostics(
    summary: str, detail: str, expected: type[QengineError]
) -> None:
    diagnostics = [
        Diagnostic(severity="warning", summary="Deprecated Parameter", detail="LimitExceeded"),
        Diagnostic(severity="error", summary=summary, detail=detail, address="aws_x.y"),
    ]
    error = classify(diagnostics, command="apply", redact=str)
    assert type(error) is expected
    assert str(error).startswith("terraform apply failed:\nError: ")
    assert "(aws_x.y)" in str(error)
    assert error.hint


def test_throttling_is_retryable_and_quota_is_not() -> None:
    throttled = classify(
        [Diagnostic(severity="error", summary="x", detail="RequestLimitExceeded")],
        command="plan",
        redact=str,
    )
    quota = classify(
        [Diagnostic(severity="error", summary="x", detail="VpcLimitExceeded")],
        command="plan",
        redact=str,
    )
    assert throttled.retryable
    assert not quota.retryable


def test_messages_pass_through_the_redactor() -> None:
    diagnostic = Diagnostic(
        severity="error", summary="creating thing", detail="token=s3cr3t-value AccessDenied"
    )
    error = classify([diagnostic], command="apply", redact=lambda t: t.replace("s3cr3t", "***"))
    assert isinstance(error, AuthError)
    assert "s3cr3t" not in str(error)


def test_raw_output_is_classified_when_there_is_no_diagnostic() -> None:
    error = classify([], command="show", redact=str, fallback="panic: ThrottlingException")
    assert isinstance(error, TransientError)
    assert "panic" in str(error)
    assert isinstance(classify([], command="show", redact=str), TerraformError)


def test_lock_info_is_read_from_terraforms_text() -> None:
    detail = (
        "Error message: operation error DynamoDB: PutItem, https response error StatusCode:"
        " 400, RequestID: X, ConditionalCheckFailedException: The conditional request failed\n"
        "Lock Info:\n  ID:        1a0ab989-aa17-78e3-a50e-130389293f90\n"
        "  Path:      state-bucket/c1/terraform.tfstate\n  Operation: OperationTypeApply\n"
        "  Who:       deployer@worker-7\n  Version:   1.11.4\n"
        "  Created:   2026-11-29 02:14:44.047944249 +0000 UTC\n  Info:      \n"
    )
    lock = parse_lock_info(detail)
    assert lock.id == "1a0ab989-aa17-78e3-a50e-130389293f90"
    assert lock.path == "state-bucket/c1/terraform.tfstate"
    assert lock.who == "deployer@worker-7"
    assert lock.created.startswith("2026-11-29 02:14:44")
    error = classify(
        [Diagnostic(severity="error", summary="Error acquiring the state lock", detail=detail)],
        command="plan",
        redact=str,
    )
    assert isinstance(error, StateLockedError)
    assert "held by deployer@worker-7" in str(error)


def test_a_missing_state_bucket_is_reported_by_the_real_backend(
    terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend
) -> None:
    workspace.write_root_module(data_module())
    tf = make_driver(workspace, s3_backend)
    with pytest.raises(InfrastructureError) as info:
        tf.init({**s3_backend.config(), "bucket": "no-such-state-bucket"})
    assert type(info.value) is InfrastructureError
    assert "bootstrap the state backend" in info.value.hint


def test_an_invalid_module_is_a_terraform_error(
    terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend
) -> None:
    module = data_module()
    module["resource"] = {"terraform_data": {"main": {"no_such_argument": 1}}}
    workspace.write_root_module(module)
    tf = make_driver(workspace, s3_backend)
    tf.init(s3_backend.config())
    with pytest.raises(TerraformError, match="no_such_argument") as info:
        tf.plan()
    assert type(info.value) is TerraformError
