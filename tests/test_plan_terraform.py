"""Terraform's own plan as a plan preview, with the real terraform on a local state: creates,
the attributes an update changes, replacements, unchanged resources; a sensitive value is
never shown."""

from __future__ import annotations

from typing import Any

from qengine.interfaces.cancel import CancelToken
from qengine.runner.plan import SECRET, Verdict
from qengine.terraform import Terraform, Workspace
from qengine.terraform.preview import UNKNOWN_VALUE, preview_plan

PASSWORD = "hunter2-not-for-eyes"  # a test value that must never be shown


def _module(size: int, password: str, trigger: str = "v1") -> dict[str, Any]:
    return {
        "variable": {"password": {"type": "string", "sensitive": True, "default": password}},
        "resource": {
            "terraform_data": {
                "nodes": {"input": {"size": size, "name": "general"}},
                "secret": {"input": "${var.password}"},
                "pinned": {"input": "same", "triggers_replace": [trigger]},
            }
        },
    }


def _apply_and_plan(workspace: Workspace, first: dict[str, Any], second: dict[str, Any]) -> Any:
    tf = Terraform(workspace, cancel=CancelToken())
    workspace.write_root_module(first)
    tf.init()
    created = preview_plan(tf)
    tf.apply(tf.plan())
    workspace.write_root_module(second)
    return created, preview_plan(tf)


def test_terraform_plan_preview() -> None:
    with Workspace.create() as workspace:
        created, changed = _apply_and_plan(
            workspace,
            _module(3, PASSWORD),
            _module(4, PASSWORD + "-rotated", trigger="v2"),
        )
    assert {(o.action, o.name) for o in created} == {
        (Verdict.CREATE, "terraform_data.nodes"),
        (Verdict.CREATE, "terraform_data.secret"),
        (Verdict.CREATE, "terraform_data.pinned"),
    }
    by_name = {o.name: o for o in changed}
    nodes = by_name["terraform_data.nodes"]
    assert nodes.action is Verdict.UPDATE
    assert nodes.kind == "terraform_data"
    fields = {f.path: (f.before, f.after) for f in nodes.fields}
    assert fields["input.size"] == ("3", "4")
    assert fields["output"][1] == UNKNOWN_VALUE
    assert "input.name" not in fields
    secret = by_name["terraform_data.secret"]
    assert secret.action is Verdict.UPDATE
    assert {(f.path, f.before, f.after) for f in secret.fields} >= {("input", SECRET, SECRET)}
    pinned = by_name["terraform_data.pinned"]
    assert pinned.action is Verdict.UPDATE
    assert pinned.note == "replaced: destroyed and created again"
    shown = repr(changed) + repr(created)
    assert PASSWORD not in shown


def test_terraform_plan_preview_of_an_unchanged_module() -> None:
    with Workspace.create() as workspace:
        _, again = _apply_and_plan(workspace, _module(3, PASSWORD), _module(3, PASSWORD))
    assert {o.action for o in again} == {Verdict.UNCHANGED}
    assert len(again) == 3
