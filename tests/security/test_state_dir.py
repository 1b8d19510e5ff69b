"""The state directory: --state-dir, then QENGINE_STATE_DIR, then ~/.local/state/qengine."""

from __future__ import annotations

import os
import pathlib
import stat

import pytest
from e2e.support import recorded, run_qengine, write_job

from qengine._paths import state_dir


def test_explicit_wins_and_is_created_0700(tmp_path: pathlib.Path) -> None:
    env = {"QENGINE_STATE_DIR": str(tmp_path / "from-env")}
    path = state_dir(tmp_path / "explicit" / "state", environ=env)
    assert path == tmp_path / "explicit" / "state"
    assert path.stat().st_mode & 0o777 == 0o700
    assert not (tmp_path / "from-env").exists()


def test_environment_then_home(tmp_path: pathlib.Path) -> None:
    assert state_dir(environ={"QENGINE_STATE_DIR": str(tmp_path / "env")}) == tmp_path / "env"
    default = state_dir(environ={"HOME": str(tmp_path / "home")})
    assert default == tmp_path / "home" / ".local" / "state" / "qengine"
    xdg = state_dir(environ={"XDG_STATE_HOME": str(tmp_path / "xdg")})
    assert xdg == tmp_path / "xdg" / "qengine"


def _refused(tmp_path: pathlib.Path, state: pathlib.Path) -> str:
    """Run a job with ``state``; assert it exited 2 before any step, return stderr."""
    spec = write_job(tmp_path, "a")
    done = run_qengine(tmp_path, "run", str(spec), "--state-dir", str(state))
    assert done.returncode == 2, done.stderr
    assert recorded(tmp_path) == []
    return done.stderr


def test_a_group_or_world_writable_state_dir_is_refused(tmp_path: pathlib.Path) -> None:
    for mode in (0o770, 0o707, 0o777):
        state = tmp_path / f"state-{mode:o}"
        state.mkdir()
        os.chmod(state, mode)
        assert "may be written by group or others" in _refused(tmp_path, state)


def test_a_state_dir_owned_by_someone_else_is_refused(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "theirs"
    state.mkdir(mode=0o700)
    os.chown(state, 65534, 65534)  # the tests run as root (see TESTING.md)
    assert "owned by uid 65534" in _refused(tmp_path, state)


def test_a_readable_state_dir_is_tightened_and_its_files_are_0600(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o755)
    spec = write_job(tmp_path, "a")
    done = run_qengine(tmp_path, "run", str(spec), "--state-dir", str(state))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = [p for p in state.iterdir() if p.is_file()]
    assert any(p.name.endswith("-wal") for p in files) or files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize("name", ["qengine.sqlite3", "audit.jsonl"])
def test_a_planted_link_in_the_state_dir_is_refused(tmp_path: pathlib.Path, name: str) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.write_text("")
    (state / name).symlink_to(target)
    _refused(tmp_path, state)
    assert target.read_text() == ""
