"""The destructive-change guard, on real plans and on typed values."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from qengine import InvalidInputError
from qengine.terraform import (
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
    assert "terraform_data" not in DestructiveGuard().protected_types
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
    guard = DestructiveGuard().protecting(["aws_eks_cluster"])
    if refused:
        with pytest.raises(DestructiveChangeError) as info:
            guard.check(plan, destroying=False)
        assert info.value.addresses == ("aws_eks_cluster.x",)
    else:
        guard.check(plan, destroying=False)
    guard.check(plan, destroying=True)
    attrs.evolve(guard, allow_destructive=True).check(plan, destroying=False)


def test_the_core_protects_no_type_of_its_own() -> None:
    # Which types hold a cluster, state, keys or data is each cloud plugin's knowledge.
    plan = Plan(changes=(_change(("delete",)),))
    DestructiveGuard().check(plan, destroying=False)
