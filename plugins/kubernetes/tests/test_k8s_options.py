"""``--kubeconfig`` and ``--context``: the plugin's options of ``qengine run`` and ``plan``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from k8s_support import QUICKSTART
from qengine_kubernetes.options import add_options, engine_settings
from qengine_kubernetes.settings import PLUGIN, KubeSettings

from qengine import InvalidInputError
from qengine.cli import main


def _options(*argv: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    add_options(parser)
    return dict(vars(parser.parse_args(list(argv))))


def test_k8s_kubeconfig_and_context_become_the_plugin_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "config").write_text("apiVersion: v1\n")
    given = engine_settings(_options("--kubeconfig", "~/k/config", "--context", "prod"))
    expected = KubeSettings(kubeconfig=os.path.expanduser("~/k/config"), context="prod")
    assert given == {PLUGIN: expected}
    assert engine_settings(_options()) is None


@pytest.mark.parametrize("name", ["missing", "a-directory"])
def test_k8s_a_kubeconfig_that_is_no_file_is_refused_before_anything_runs(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(InvalidInputError, match=r"--kubeconfig: .* (does not exist|is not a file)"):
        engine_settings(_options("--kubeconfig", str(tmp_path / name)))
    argv = ["run", str(QUICKSTART), "--sandbox", "--kubeconfig", str(tmp_path / name)]
    assert main([*argv, "--state-dir", str(tmp_path / "state")]) == 2
    assert "--kubeconfig" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # refused before the journal was opened


def test_k8s_a_context_without_a_kubeconfig_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="only used with --kubeconfig"):
        engine_settings(_options("--context", "prod"))


def test_k8s_the_options_are_the_plugins_group_of_run_and_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QENGINE_PLUGINS", PLUGIN)
    for command in ("run", "plan"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        shown = capsys.readouterr().out
        assert f"\n{PLUGIN}:\n" in shown
        assert "--kubeconfig FILE" in shown
        assert "--context NAME" in shown
    state = ["--state-dir", str(tmp_path)]
    assert main(["plan", str(QUICKSTART), "--context", "prod", *state]) == 2
    assert "--context is only used with --kubeconfig" in capsys.readouterr().err
