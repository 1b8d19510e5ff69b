"""Fixtures for the Terraform driver tests: the real terraform, an S3 backend on moto."""

from __future__ import annotations

import secrets
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from qengine.terraform import Workspace, find_terraform
from qengine.testing.tcp_relay import TcpRelay

from .s3backend import S3Backend


@pytest.fixture(scope="session")
def terraform_binary() -> Path:
    """The real terraform; its absence fails the tests loudly (TerraformNotFoundError)."""
    return find_terraform()


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto keeps its backends per process, shared by every server it runs: start clean.
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def dynamodb_endpoint(moto_endpoint: str) -> Iterator[str]:
    """moto's endpoint behind a TCP relay (see relay.py for why); stopped after the test."""
    relay = TcpRelay(int(moto_endpoint.rsplit(":", 1)[1])).start()
    try:
        yield f"http://127.0.0.1:{relay.port}"
    finally:
        relay.stop()


@pytest.fixture
def s3_backend(moto_endpoint: str, dynamodb_endpoint: str) -> S3Backend:
    """A state bucket and lock table, created with boto3 as the bootstrap would."""
    token = secrets.token_hex(12)
    backend = S3Backend(
        endpoint=moto_endpoint,
        dynamodb_endpoint=dynamodb_endpoint,
        credentials={
            "AWS_ACCESS_KEY_ID": f"AKIA{token[:16].upper()}",
            "AWS_SECRET_ACCESS_KEY": f"qe-test-secret-{token}",
        },
        bucket=f"qengine-state-{token[:8]}",
        lock_table=f"qengine-locks-{token[:8]}",
    )
    backend.client("s3").create_bucket(Bucket=backend.bucket)
    backend.client("dynamodb").create_table(
        TableName=backend.lock_table,
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return backend


@pytest.fixture
def workspace() -> Iterator[Workspace]:
    with Workspace.create() as ws:
        yield ws
