"""Two jobs on one state: Terraform's DynamoDB lock is honoured, typed, and waited for."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qengine import ConflictError, TargetLockedError
from qengine.terraform import Plan, StateLockedError, Workspace

from .s3backend import Recorder, S3Backend, data_module, make_driver
from .waiting import wait_for

pytestmark = pytest.mark.slow


def _slow_apply(backend: S3Backend, seconds: float) -> Plan:
    with Workspace.create() as workspace:
        workspace.write_root_module(data_module(value="first", sleep=seconds))
        tf = make_driver(workspace, backend)
        tf.init(backend.config())
        return tf.apply(tf.plan())


def _applying(backend: S3Backend) -> bool:
    return backend.lock_operations() == ["OperationTypeApply"]


def test_second_concurrent_apply_fails_with_the_typed_lock_error(
    terraform_binary: Path, s3_backend: S3Backend
) -> None:
    with Workspace.create() as workspace, ThreadPoolExecutor(1) as pool:
        workspace.write_root_module(data_module(value="second"))
        second = make_driver(workspace, s3_backend)
        second.init(s3_backend.config())
        planned_before = second.plan()  # planned while nobody holds the lock
        first = pool.submit(_slow_apply, s3_backend, 4)
        wait_for(lambda: _applying(s3_backend), what="the first apply's lock")

        with pytest.raises(StateLockedError) as info:
            second.apply(planned_before)
        first.result(timeout=60)

    error = info.value
    assert isinstance(error, TargetLockedError)
    assert error.exit_code == 4
    assert error.lock.operation == "OperationTypeApply"
    assert len(error.lock.id) == 36
    assert error.lock.id in str(error)
    assert f"terraform force-unlock {error.lock.id}" in error.hint
    assert "-lock=false" not in error.hint


def test_second_job_waits_for_the_lock_when_given_a_timeout(
    terraform_binary: Path, s3_backend: S3Backend
) -> None:
    with Workspace.create() as workspace, ThreadPoolExecutor(1) as pool:
        workspace.write_root_module(data_module(value="second"))
        recorder = Recorder()
        second = make_driver(workspace, s3_backend, recorder=recorder, lock_timeout=60)
        second.init(s3_backend.config())
        first = pool.submit(_slow_apply, s3_backend, 3)
        wait_for(lambda: _applying(s3_backend), what="the first apply's lock")
        started = time.monotonic()

        plan_file = second.plan()  # blocks until the first apply releases the lock

        assert time.monotonic() - started > 1.0
        first.result(timeout=60)
        # The plan was made against the first job's state: an update, not a create.
        assert [c.actions for c in second.show_plan(plan_file).changes] == [("update",)]
        second.apply(plan_file)
        assert second.outputs()["value"].value == "second"


def test_an_apply_waits_for_the_lock_then_refuses_its_stale_plan(
    terraform_binary: Path, s3_backend: S3Backend
) -> None:
    with Workspace.create() as workspace, ThreadPoolExecutor(1) as pool:
        workspace.write_root_module(data_module(value="second"))
        second = make_driver(workspace, s3_backend, lock_timeout=60)
        second.init(s3_backend.config())
        planned_before = second.plan()
        first = pool.submit(_slow_apply, s3_backend, 3)
        wait_for(lambda: _applying(s3_backend), what="the first apply's lock")

        with pytest.raises(ConflictError, match="Saved plan is stale") as info:
            second.apply(planned_before)  # waits for the lock, then sees the state moved

        first.result(timeout=60)
    assert "plan again" in info.value.hint
    assert s3_backend.lock_rows() == []
