"""Cancelling a running apply: SIGINT, Terraform stops and releases its lock, workspace gone."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qengine import CancelledError
from qengine.interfaces import CancelToken
from qengine.terraform import Workspace

from .s3backend import Recorder, S3Backend, data_module, make_driver
from .waiting import wait_for

pytestmark = pytest.mark.slow


def _apply(backend: S3Backend, cancel: CancelToken, recorder: Recorder, seen: list[Path]) -> None:
    with Workspace.create() as workspace:
        seen.append(workspace.path)
        workspace.write_root_module(data_module(sleep=120))
        tf = make_driver(workspace, backend, cancel=cancel, recorder=recorder)
        tf.init(backend.config())
        tf.apply(tf.plan())


def test_cancel_mid_apply_interrupts_and_releases_the_lock(
    terraform_binary: Path, s3_backend: S3Backend
) -> None:
    cancel, recorder, seen = CancelToken(), Recorder(), list[Path]()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_apply, s3_backend, cancel, recorder, seen)
        wait_for(lambda: "Provisioning with 'local-exec'" in recorder.text, what="provisioner")
        assert s3_backend.lock_operations() == ["OperationTypeApply"]
        assert seen[0].is_dir()
        started = time.monotonic()
        cancel.cancel("operator asked")
        with pytest.raises(CancelledError, match="interrupted") as info:
            running.result(timeout=90)

    assert time.monotonic() - started < 30  # well inside the grace period: no SIGKILL needed
    assert info.value.exit_code == 3
    assert "Interrupt received" in recorder.text
    assert s3_backend.lock_rows() == []
    assert not seen[0].exists()  # workspace removed
    # The state is usable at once: a new job plans without waiting for any lock.
    with Workspace.create() as workspace:
        workspace.write_root_module(data_module())
        tf = make_driver(workspace, s3_backend)
        tf.init(s3_backend.config())
        assert tf.plan().has_changes


def test_a_cancelled_token_stops_before_starting_terraform(
    terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend
) -> None:
    cancel = CancelToken()
    cancel.cancel("before start")
    workspace.write_root_module(data_module())
    tf = make_driver(workspace, s3_backend, cancel=cancel)
    with pytest.raises(CancelledError, match="before start"):
        tf.init(s3_backend.config())
    assert not (workspace.path / ".terraform").exists()
