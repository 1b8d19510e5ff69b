"""The driver against the real terraform and an S3 backend with DynamoDB locking on moto."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qengine import InvalidInputError
from qengine.terraform import OutputValue, Workspace

from .s3backend import STATE_KEY, Recorder, S3Backend, data_module, make_driver


def test_init_plan_apply_outputs_round_trip(
    terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend
) -> None:
    environ_before = dict(os.environ)
    workspace.write_root_module(data_module(value="hello"))
    recorder = Recorder()
    tf = make_driver(workspace, s3_backend, recorder=recorder)
    tf.init(s3_backend.config())
    plan_file = tf.plan()
    assert plan_file.has_changes
    assert plan_file.path.is_file()
    plan = tf.show_plan(plan_file)
    assert [(c.address, c.type, c.name, c.actions) for c in plan.changes] == [
        ("terraform_data.main", "terraform_data", "main", ("create",))
    ]
    tf.apply(plan_file)

    outputs = tf.outputs()
    assert outputs["value"] == OutputValue(value="hello", sensitive=False, type="string")
    assert outputs["trigger_count"].value == 1
    assert outputs["token"].sensitive
    assert "not-really-a-secret" not in repr(outputs["token"])
    assert "Apply complete!" in recorder.text
    completed = [(ln.address, ln.action) for ln in recorder.lines if ln.kind == "apply_complete"]
    assert completed == [("terraform_data.main", "create")]
    # The state object is really in the bucket, and holds what was applied.
    assert s3_backend.state_keys() == [STATE_KEY]
    state = json.loads(s3_backend.state_document())
    assert state["resources"][0]["type"] == "terraform_data"
    assert state["outputs"]["value"]["value"] == "hello"
    assert s3_backend.lock_rows() == []
    assert dict(os.environ) == environ_before


def test_second_plan_of_an_applied_module_has_no_changes(
    terraform_binary: Path, s3_backend: S3Backend
) -> None:
    for attempt in range(2):
        with Workspace.create() as workspace:
            workspace.write_root_module(data_module(value="same"))
            tf = make_driver(workspace, s3_backend)
            tf.init(s3_backend.config())
            plan_file = tf.plan()
            if attempt == 0:
                assert plan_file.has_changes
                tf.apply(plan_file)
            else:
                assert not plan_file.has_changes
                assert not tf.show_plan(plan_file).has_changes
                assert tf.show_plan(plan_file).changes[0].actions == ("no-op",)


def test_changed_input_is_an_update_and_outputs_follow(
    terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend
) -> None:
    workspace.write_root_module(data_module(value="one"))
    tf = make_driver(workspace, s3_backend)
    tf.init(s3_backend.config())
    tf.apply(tf.plan())
    workspace.write_root_module(data_module(value="two"))
    plan = tf.apply(tf.plan())
    assert plan.changes[0].actions == ("update",)
    assert tf.outputs()["value"].value == "two"


def test_destroy_removes_every_resource_from_the_state(
    terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend
) -> None:
    workspace.write_root_module(data_module())
    tf = make_driver(workspace, s3_backend)
    tf.init(s3_backend.config())
    tf.apply(tf.plan())
    plan = tf.destroy()
    assert [c.actions for c in plan.changes] == [("delete",)]
    assert json.loads(s3_backend.state_document())["resources"] == []


def test_backend_settings_carrying_a_credential_are_refused(
    terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend
) -> None:
    workspace.write_root_module(data_module())
    tf = make_driver(workspace, s3_backend)
    config = s3_backend.config()
    with pytest.raises(InvalidInputError, match="secret_key"):
        tf.init({**config, "secret_key": "x"})
    sneaky = {**config, "key": s3_backend.credentials["AWS_SECRET_ACCESS_KEY"]}
    with pytest.raises(InvalidInputError, match="may not carry credentials") as info:
        tf.init(sneaky)
    assert s3_backend.credentials["AWS_SECRET_ACCESS_KEY"] not in str(info.value)
    assert not (workspace.path / "backend.tfbackend.json").exists()


def test_an_empty_secret_setting_blanks_an_environment_default() -> None:
    from qengine.terraform.environment import check_backend_config

    check_backend_config({"key": "k", "client_secret": ""}, {"ARM_MSI_ENDPOINT": "http://x/s"})
    with pytest.raises(InvalidInputError, match="client_secret"):
        check_backend_config({"client_secret": "s"}, {})


def test_backend_settings_without_a_declared_backend_are_refused(
    terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend
) -> None:
    workspace.write_root_module(data_module(backend=False))
    tf = make_driver(workspace, s3_backend)
    with pytest.raises(InvalidInputError, match="declares no backend"):
        tf.init(s3_backend.config())
