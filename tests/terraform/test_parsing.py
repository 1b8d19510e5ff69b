"""Parsing Terraform's JSON documents and UI lines into typed values."""

from __future__ import annotations

import json

import pytest

from qengine.terraform import MalformedOutputError, OutputValue
from qengine.terraform.messages import parse_text_diagnostics, parse_ui_line
from qengine.terraform.outputs import parse_outputs
from qengine.terraform.plan import parse_plan


def test_plan_document_keeps_managed_changes_only_and_no_values() -> None:
    document = {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": "module.eks.aws_eks_cluster.this[0]",
                "mode": "managed",
                "type": "aws_eks_cluster",
                "name": "this",
                "change": {"actions": ["delete", "create"], "after": {"secret": "x"}},
            },
            {
                "address": "data.aws_region.current",
                "mode": "data",
                "type": "aws_region",
                "name": "current",
                "change": {"actions": ["read"]},
            },
        ],
    }
    plan = parse_plan(json.dumps(document))
    (change,) = plan.changes
    assert change.address == "module.eks.aws_eks_cluster.this[0]"
    assert change.is_replace
    assert not change.is_delete
    assert plan.destructive == (change,)
    assert "secret" not in repr(plan)


@pytest.mark.parametrize(
    "text", ["", "[]", "{}", '{"format_version": "1.2", "resource_changes": 3}']
)
def test_malformed_plan_documents_are_refused(text: str) -> None:
    with pytest.raises(MalformedOutputError):
        parse_plan(text)


def test_outputs_are_typed_and_sensitive_values_hidden_from_repr() -> None:
    document = {
        "endpoint": {"sensitive": False, "type": "string", "value": "https://k8s"},
        "ca": {"sensitive": True, "type": "string", "value": "LS0tLS1CRUdJTg=="},
        "zones": {"sensitive": False, "type": ["list", "string"], "value": ["a", "b"]},
    }
    outputs = parse_outputs(json.dumps(document))
    assert outputs["zones"] == OutputValue(
        value=["a", "b"], sensitive=False, type=["list", "string"]
    )
    assert "LS0tLS1CRUdJTg" not in repr(outputs["ca"])
    assert "https://k8s" in repr(outputs["endpoint"])
    with pytest.raises(MalformedOutputError):
        parse_outputs('{"x": {"sensitive": false}}')


def test_ui_lines_become_log_lines_and_diagnostics() -> None:
    info = parse_ui_line('{"@level":"info","@message":"Plan: 1 to add","type":"change_summary"}')
    assert (info.line.level, info.line.text, info.diagnostic) == ("info", "Plan: 1 to add", None)
    raw = (
        '{"@level":"error","@message":"Error: local-exec provisioner error","type":"diagnostic",'
        '"diagnostic":{"severity":"error","summary":"local-exec provisioner error",'
        '"detail":"exit status 3","address":"terraform_data.main"}}'
    )
    error = parse_ui_line(raw)
    assert error.diagnostic is not None
    assert error.diagnostic.address == "terraform_data.main"
    assert (
        error.line.text
        == "Error: local-exec provisioner error (terraform_data.main): exit status 3"
    )
    assert parse_ui_line("not json").line.text == "not json"


def test_plain_text_diagnostics_are_split() -> None:
    stderr = [
        "",
        "Error: Failed to load plugin schemas",
        "",
        "Error while loading schemas for plugin components: x.",
        "╷",
        "│ Warning: Something odd",
        "│ ",
        "│ More words.",
        "╵",
    ]
    first, second = parse_text_diagnostics(stderr)
    assert (first.severity, first.summary) == ("error", "Failed to load plugin schemas")
    assert first.detail.startswith("Error while loading schemas")
    assert (second.severity, second.summary, second.detail) == (
        "warning",
        "Something odd",
        "More words.",
    )


def test_resource_messages_carry_address_and_action() -> None:
    raw = (
        '{"@level":"info","@message":"terraform_data.a: Creation complete after 0s [id=7b4c]",'
        '"hook":{"resource":{"addr":"terraform_data.a","resource_type":"terraform_data"},'
        '"action":"create","id_key":"id","id_value":"7b4c","elapsed_seconds":0},'
        '"type":"apply_complete"}'
    )
    line = parse_ui_line(raw).line
    assert (line.kind, line.address, line.action) == (
        "apply_complete",
        "terraform_data.a",
        "create",
    )
    plain = parse_ui_line("plain words").line
    assert (plain.kind, plain.address, plain.action) == ("text", None, None)
