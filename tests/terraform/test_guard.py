"""The destructive-change guard, on real plans and on typed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qengine import InvalidInputError
from qengine.terraform import (
    DEFAULT_PROTECTED_TYPES,
    DestructiveChangeError,
    DestructiveGuard,
    Plan,
    PlannedChange,
    Workspace,
)

from .s3backend import S3Backend, data_module, make_driver

PROTECT_DATA = DestructiveGuard().protecting(["terraform_data"])


def _change(actions: tuple[str, ...], type_: str = "aws_eks_cluster") -> PlannedChange:
    return PlannedChange(address=f"{type_}.x", type=type_, name="x", actions=actions)


def _resource_id(backend: S3Backend) -> str:
    state = json.loads(backend.state_document())
    return str(state["resources"][0]["instances"][0]["attributes"]["id"])


@pytest.fixture
def applied(terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend) -> Workspace:
    workspace.write_root_module(data_module(trigger="v1"))
    tf = make_driver(workspace, s3_backend, guard=PROTECT_DATA)
    tf.init(s3_backend.config())
    tf.apply(tf.plan())
    return workspace


def test_replacing_a_protected_resource_is_refused_and_nothing_applied(
    applied: Workspace, s3_backend: S3Backend
) -> None:
    before = _resource_id(s3_backend)
    applied.write_root_module(data_module(trigger="v2"))  # triggers_replace forces a replacement
    tf = make_driver(applied, s3_backend, guard=PROTECT_DATA)
    plan_file = tf.plan()
    assert tf.show_plan(plan_file).changes[0].is_replace

    with pytest.raises(DestructiveChangeError) as info:
        tf.apply(plan_file)

    assert isinstance(info.value, InvalidInputError)
    assert info.value.addresses == ("terraform_data.main",)
    assert "replace terraform_data.main" in str(info.value)
    assert "allowed" in info.value.hint
    assert _resource_id(s3_backend) == before


def test_replacement_goes_through_when_explicitly_allowed(
    applied: Workspace, s3_backend: S3Backend
) -> None:
    before = _resource_id(s3_backend)
    applied.write_root_module(data_module(trigger="v2"))
    guard = DestructiveGuard(allow_destructive=True).protecting(["terraform_data"])
    tf = make_driver(applied, s3_backend, guard=guard)
    tf.apply(tf.plan())
    assert _resource_id(s3_backend) != before


def test_removing_a_protected_resource_is_refused_but_destroy_passes(
    applied: Workspace, s3_backend: S3Backend
) -> None:
    applied.write_root_module({"terraform": {"backend": {"s3": {}}}})
    tf = make_driver(applied, s3_backend, guard=PROTECT_DATA)
    plan_file = tf.plan()
    assert tf.show_plan(plan_file).changes[0].is_delete
    with pytest.raises(DestructiveChangeError, match=r"delete terraform_data\.main"):
        tf.apply(plan_file)

    tf.destroy()  # the delete action: a destroy plan is what the job asked for
    assert json.loads(s3_backend.state_document())["resources"] == []


def test_unprotected_types_may_be_replaced(applied: Workspace, s3_backend: S3Backend) -> None:
    applied.write_root_module(data_module(trigger="v2"))
    tf = make_driver(applied, s3_backend)  # default guard: terraform_data is not protected
    assert "terraform_data" not in DEFAULT_PROTECTED_TYPES
    tf.apply(tf.plan())


@pytest.mark.parametrize(
    ("actions", "refused"),
    [
        pytest.param(("delete",), True, id="delete"),
        pytest.param(("delete", "create"), True, id="replace-destroy-first"),
        pytest.param(("create", "delete"), True, id="replace-create-first"),
        pytest.param(("update",), False, id="update"),
        pytest.param(("create",), False, id="create"),
        pytest.param(("no-op",), False, id="no-op"),
        pytest.param(("forget",), False, id="forget"),
    ],
)
def test_guard_actions(actions: tuple[str, ...], refused: bool) -> None:
    plan = Plan(changes=(_change(actions), _change(actions, "aws_instance")))
    if refused:
        with pytest.raises(DestructiveChangeError) as info:
            DestructiveGuard().check(plan, destroying=False)
        assert info.value.addresses == ("aws_eks_cluster.x",)
    else:
        DestructiveGuard().check(plan, destroying=False)
    DestructiveGuard().check(plan, destroying=True)
    DestructiveGuard(allow_destructive=True).check(plan, destroying=False)


def test_default_protected_types_cover_clusters_state_keys_and_databases() -> None:
    expected = {"aws_eks_cluster", "aws_eks_node_group", "aws_s3_bucket", "aws_kms_key"}
    expected |= {"aws_db_instance", "aws_rds_cluster", "google_container_cluster"}
    expected |= {"azurerm_kubernetes_cluster"}
    assert expected <= DEFAULT_PROTECTED_TYPES
    assert "aws_instance" not in DEFAULT_PROTECTED_TYPES
