"""Helpers for the Terraform driver tests: an S3 backend on moto, a module, a recorder."""

from __future__ import annotations

import json
from typing import Any

import attrs
import boto3  # type: ignore[import-untyped]

from qengine.interfaces import CancelToken
from qengine.terraform import LogLine, Terraform, Workspace
from qengine.terraform.json_types import Json

REGION = "us-east-1"
STATE_KEY = "clusters/test/terraform.tfstate"


@attrs.frozen(kw_only=True)
class S3Backend:
    """An S3 state bucket and DynamoDB lock table on a moto server, and how to reach them."""

    endpoint: str
    credentials: dict[str, str]
    bucket: str
    lock_table: str

    def config(self, key: str = STATE_KEY) -> dict[str, Json]:
        return {
            "bucket": self.bucket,
            "key": key,
            "region": REGION,
            "dynamodb_table": self.lock_table,
            "endpoints": {"s3": self.endpoint, "dynamodb": self.endpoint, "sts": self.endpoint},
            "use_path_style": True,
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": True,
            "skip_region_validation": True,
        }

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
        )

    def state_keys(self) -> list[str]:
        listing = self.client("s3").list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listing.get("Contents", [])]

    def state_document(self, key: str = STATE_KEY) -> bytes:
        body: bytes = self.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def lock_operations(self) -> list[str]:
        """The operation (``OperationTypeApply``...) of every lock currently held."""
        items = self.client("dynamodb").scan(TableName=self.lock_table)["Items"]
        return [json.loads(i["Info"]["S"])["Operation"] for i in items if "Info" in i]

    def lock_rows(self) -> list[str]:
        """LockID of every row that is a held lock (Terraform also keeps ``-md5`` digest rows)."""
        items = self.client("dynamodb").scan(TableName=self.lock_table)["Items"]
        return [i["LockID"]["S"] for i in items if not i["LockID"]["S"].endswith("-md5")]


def data_module(
    *,
    value: str = "hello",
    trigger: str = "v1",
    sleep: float = 0.0,
    command: str | None = None,
    backend: bool = True,
) -> dict[str, Json]:
    """A root module with builtin resources only: one ``terraform_data`` and outputs."""
    resource: dict[str, Json] = {"input": value, "triggers_replace": [trigger]}
    if sleep:
        command = f"sleep {sleep}"
    if command is not None:
        resource["provisioner"] = [{"local-exec": {"command": command}}]
    module: dict[str, Json] = {
        "resource": {"terraform_data": {"main": resource}},
        "output": {
            "value": {"value": "${terraform_data.main.output}"},
            "trigger_count": {"value": "${length(terraform_data.main.triggers_replace)}"},
            "token": {"value": "not-really-a-secret", "sensitive": True},
        },
    }
    if backend:
        module["terraform"] = {"backend": {"s3": {}}}
    return module


class Recorder:
    """Collects the driver's streamed lines."""

    def __init__(self) -> None:
        self.lines: list[LogLine] = []

    def __call__(self, line: LogLine) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def make_driver(
    workspace: Workspace,
    backend: S3Backend,
    *,
    cancel: CancelToken | None = None,
    recorder: Recorder | None = None,
    **kwargs: Any,
) -> Terraform:
    return Terraform(
        workspace,
        cancel=cancel or CancelToken(),
        on_line=recorder or Recorder(),
        credentials=backend.credentials,
        **kwargs,
    )
