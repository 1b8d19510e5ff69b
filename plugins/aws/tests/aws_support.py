"""Constants and helpers shared by the AWS plugin's tests (imported as ``aws_support``)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from qengine_aws.settings import AwsSettings

from qengine.secrets.value import SecretValue
from qengine.testing.tcp_relay import TcpRelay

#: moto's fixed account id.
ACCOUNT = "123456789012"
FAKE_KEY_ID = "AKIAQENGINETEST00001"
FAKE_SECRET = "qengine-test-secret-access-key-00000000001"
REGION = "eu-west-3"


def secrets_of(values: dict[str, str]) -> Callable[[str], SecretValue]:
    """A secret opener over ``values`` (what ``services.secrets.open`` is to a step)."""

    def open_secret(name: str) -> SecretValue:
        return SecretValue(values[name])

    return open_secret


def client(settings: AwsSettings, service: str) -> Any:
    """A boto3 client at the settings' endpoint with fake credentials passed explicitly."""
    import boto3

    return boto3.session.Session().client(
        service,
        region_name=REGION,
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=FAKE_KEY_ID,
        aws_secret_access_key=FAKE_SECRET,
    )


class CountingRelay(TcpRelay):
    """The project's TCP relay (in front of moto) counting the connections it serves: proof
    that a step sent no request at all."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.connections = 0

    def __enter__(self) -> CountingRelay:
        self.start()
        return self

    def _serve(self, client: socket.socket) -> None:
        self.connections += 1
        super()._serve(client)
