"""The state directory: --state-dir, then QENGINE_STATE_DIR, then ~/.local/state/qengine."""

from __future__ import annotations

import pathlib

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
