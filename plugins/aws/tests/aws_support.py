"""Constants and helpers shared by the AWS plugin's tests (imported as ``aws_support``)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from qengine_aws.settings import AwsSettings

from qengine.secrets.value import SecretValue

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


def reset_auth(endpoint: str, count: str) -> str:
    """Let moto serve ``count`` more requests unchecked (``"0"``: check every request's
    signature against IAM); the previous count, to restore afterwards."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        previous: str = json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]
    return previous
