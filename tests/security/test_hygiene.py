"""Process hygiene: core dumps off, private per-job temp dirs, explicit child environments."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from qengine.secrets.hygiene import child_env, private_tempdir, write_private_file


def test_disable_core_dumps_sets_the_limit_to_zero_in_the_process() -> None:
    # Run in a child so the test process keeps its own limits.
    code = (
        "import resource; from qengine.secrets.hygiene import disable_core_dumps; "
        "disable_core_dumps(); print(resource.getrlimit(resource.RLIMIT_CORE))"
    )
    env = child_env(extra={"PYTHONPATH": str(pathlib.Path(__file__).parents[2])})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
    assert out.stdout.strip() == b"(0, 0)"


def test_private_tempdir_is_0700_files_0600_and_removed(tmp_path: pathlib.Path) -> None:
    with private_tempdir("job/../0001", base=tmp_path) as directory:
        assert directory.parent == tmp_path
        assert "/" not in directory.name.removeprefix("qengine-")
        assert directory.stat().st_mode & 0o777 == 0o700
        path = write_private_file(directory, "kubeconfig", b"token: abc")
        assert path.stat().st_mode & 0o777 == 0o600
        with pytest.raises(FileExistsError):
            write_private_file(directory, "kubeconfig", b"again")
    assert not directory.exists()


def test_private_tempdir_is_removed_when_the_block_fails(tmp_path: pathlib.Path) -> None:
    class Cancelled(Exception):
        pass

    def job_step() -> None:
        with private_tempdir("job-1", base=tmp_path) as directory:
            write_private_file(directory, "secret", b"x")
            raise Cancelled

    with pytest.raises(Cancelled):
        job_step()
    assert list(tmp_path.iterdir()) == []


def test_write_private_file_does_not_follow_a_symlink(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(FileExistsError):
        write_private_file(tmp_path, "link", b"secret")
    assert target.read_bytes() == b""
    with pytest.raises(ValueError, match="invalid file name"):
        write_private_file(tmp_path, "../escape", b"x")


def test_child_env_is_explicit() -> None:
    host = {"PATH": "/usr/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "host-secret"}
    env = child_env(["PATH", "HOME", "LANG"], {"TOKEN": "job-secret"}, source=host)
    assert env == {"PATH": "/usr/bin", "HOME": "/root", "TOKEN": "job-secret"}
    before = dict(os.environ)
    child_env(extra={"X_QENGINE_TEST": "1"})
    assert dict(os.environ) == before


def test_a_child_sees_only_its_explicit_environment() -> None:
    env = child_env(["PATH"], {"ONLY_FOR_CHILD": "1"})
    out = subprocess.run(
        [sys.executable, "-c", "import json, os; print(json.dumps(sorted(os.environ)))"],
        env=env,
        capture_output=True,
        check=True,
        text=True,
    )
    names = set(json.loads(out.stdout))
    assert "ONLY_FOR_CHILD" in names
    assert names <= {"PATH", "ONLY_FOR_CHILD", "LC_CTYPE"}
