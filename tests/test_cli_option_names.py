"""One meaning per option name: ``-o``/``--output`` is the output format (text or json) in
every command; commands that write files take ``--out`` / ``--out-dir``, and the old spelling
of those (``-o FILE``, ``--output-dir DIR``) is refused naming the new one."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import QUICKSTART, qengine

from qengine._cli.main import build_parser


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", sub
                yield from _commands(sub, f"{prefix}{name} ")


def test_dash_o_is_the_output_format_in_every_command() -> None:
    with_o = {}
    for name, sub in _commands(build_parser()):
        for flag in ("-o", "--output"):
            action = sub._option_string_actions.get(flag)
            if action is not None:
                with_o[name] = action
                assert action.dest == "output", name
                assert action.default == "text", name
    assert {"validate", "plan", "run", "export", "seal", "sign", "history"} <= set(with_o)


RENAMED = {
    "export -o DIR": (["export", str(QUICKSTART), "-o", "out"], "--out-dir", "out"),
    "export --output-dir": (["export", str(QUICKSTART), "--output-dir", "out"], "--out-dir", "out"),
    "seal -o FILE": (["seal", str(QUICKSTART), "--secrets", "s.json", "-o", "out"], "--out", "out"),
    "sign --output FILE": (
        ["sign", str(QUICKSTART), "--key", "k", "--output", "out"],
        "--out",
        "out",
    ),
}


@pytest.mark.parametrize("case", RENAMED.values(), ids=RENAMED.keys())
def test_an_old_spelling_is_refused_naming_the_new(
    tmp_path: Path, case: tuple[list[str], str, str]
) -> None:
    argv, new, value = case
    done = qengine(tmp_path, *argv)
    assert done.returncode == 2, done.stderr
    assert f"writes to {new} " in done.stderr
    assert f"hint: Use {new} {value}." in done.stderr
    assert not (tmp_path / value).exists()


def test_export_with_the_new_name_and_a_json_report(tmp_path: Path) -> None:
    done = qengine(tmp_path, "export", str(QUICKSTART), "--out-dir", "out", "-o", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["ok"], report["directory"]) == (True, "out")
    assert all((tmp_path / "out" / name).is_file() for name in report["files"])
