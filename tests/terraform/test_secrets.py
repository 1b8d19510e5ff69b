"""Credentials given to the driver reach terraform's environment and nothing else."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qengine import QengineError
from qengine.interfaces import CancelToken
from qengine.terraform import Workspace

from .s3backend import Recorder, S3Backend, data_module, make_driver
from .waiting import wait_for

pytestmark = pytest.mark.slow


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _proc_file(pid: int, name: str) -> bytes:
    try:
        return (Path("/proc") / str(pid) / name).read_bytes()
    except OSError:
        return b""


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_credential_stays_out_of_argv_files_output_and_os_environ(
    terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend
) -> None:
    secret = s3_backend.credentials["AWS_SECRET_ACCESS_KEY"]
    needle = secret.encode()
    # The provisioner prints the secret itself: the driver must mask it in what it streams.
    workspace.write_root_module(data_module(command='echo "key=$AWS_SECRET_ACCESS_KEY"; sleep 3'))
    recorder = Recorder()
    tf = make_driver(workspace, s3_backend, recorder=recorder)
    tf.init(s3_backend.config())
    plan_file = tf.plan()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(tf.apply, plan_file)
        wait_for(lambda: "key=" in recorder.text, what="the provisioner's output")
        pids = _descendants(os.getpid())
        cmdlines = {pid: _proc_file(pid, "cmdline") for pid in pids}
        environs = [_proc_file(pid, "environ") for pid in pids]
        files_while_running = _files_containing(workspace.path, needle)
        running.result(timeout=60)

    # This workspace's apply (the plan file is its own): other tests' processes may linger.
    ours = str(plan_file.path).encode()
    (apply_argv,) = [c for c in cmdlines.values() if b"terraform\0apply" in c and ours in c]
    assert b"-lock-timeout=0s" in apply_argv.split(b"\0")
    assert b"-lock=false" not in apply_argv
    assert not [pid for pid, line in cmdlines.items() if needle in line]
    assert any(needle in env for env in environs)  # it is where it belongs: the child's env
    assert files_while_running == []
    assert _files_containing(workspace.path, needle) == []
    assert "key=***" in recorder.text
    assert secret not in recorder.text
    assert secret not in os.environ.values()
    assert needle not in s3_backend.state_document()


def test_credential_is_masked_in_error_messages(
    terraform_binary: Path, workspace: Workspace, s3_backend: S3Backend
) -> None:
    secret = s3_backend.credentials["AWS_SECRET_ACCESS_KEY"]
    workspace.write_root_module(data_module(command='echo "$AWS_SECRET_ACCESS_KEY" >&2; exit 3'))
    recorder = Recorder()
    redactions: list[str] = []

    def redact(text: str) -> str:
        redactions.append(text)
        return text.replace("qe-test", "[redacted]")

    tf = make_driver(workspace, s3_backend, recorder=recorder, redact=redact)
    tf.init(s3_backend.config())
    with pytest.raises(QengineError) as info:
        tf.apply(tf.plan())
    assert "local-exec provisioner error" in str(info.value)
    assert secret not in str(info.value)
    assert "Output: ***" in str(info.value)  # terraform did quote it; the driver masked it
    assert secret not in recorder.text
    assert redactions  # the job's redactor saw every line too
    assert "qe-test" not in recorder.text


def test_credentials_cannot_override_the_drivers_own_variables(
    terraform_binary: Path, workspace: Workspace
) -> None:
    from qengine import InvalidInputError
    from qengine.terraform import Terraform

    for name in ("HOME", "TF_CLI_CONFIG_FILE", "TF_LOG", "PATH", "bad name"):
        with pytest.raises(InvalidInputError):
            Terraform(workspace, cancel=CancelToken(), credentials={name: "x"})
