"""Strings of a job spec: control characters, lone surrogates and oversized values are refused
at validation (exit 2), each named by its ``$.path``, without echoing the value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _job(**environment: Any) -> dict[str, Any]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "strings-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": "a"},
        "environment": {"id": "env-1", "name": "env-1", **environment},
    }


def _validate(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "job.json"
    spec.write_text(text)
    env = {"PATH": os.environ.get("PATH", ""), "QENGINE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    argv = [sys.executable, "-m", "qengine", "-p", "qengine.testing.plugin", "validate", str(spec)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


def _container(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "container",
        "name": "web",
        "image": "registry.example.com/app",
        "tag": "1",
    } | fields


CASES = {
    "ansi-escape": (
        _container(env={"MOTD": "\x1b[2J\x1b]0;pwned\x07hello"}),
        "$.environment.services[web].env.MOTD",
    ),
    "nul": (_container(command=["run", "a\x00b"]), "$.environment.services[web].command[1]"),
    "c1-control": (_container(env={"X": "a\x9bb"}), "$.environment.services[web].env.X"),
    "two-megabytes": (
        _container(env={"BIG": "x" * (2 * 1024 * 1024)}),
        "$.environment.services[web].env.BIG",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_string_is_refused_with_its_path(tmp_path: Path, case: str) -> None:
    service, path = CASES[case]
    done = _validate(tmp_path, json.dumps(_job(services=[service])))
    assert done.returncode == 2, done.stdout + done.stderr
    assert path in done.stderr
    assert "\x1b" not in done.stderr
    assert len(done.stderr) < 2000


def test_a_lone_surrogate_is_refused_with_its_path(tmp_path: Path) -> None:
    text = json.dumps(_job(services=[_container(env={"X": "PLACEHOLDER"})]))
    done = _validate(tmp_path, text.replace("PLACEHOLDER", "a\\ud800b"))
    assert done.returncode == 2, done.stderr
    assert "$.environment.services[web].env.X" in done.stderr
    assert "surrogate" in done.stderr


def test_tabs_and_line_breaks_stay_allowed(tmp_path: Path) -> None:
    service = _container(env={"PEM": "-----BEGIN X-----\r\n\tabc\n-----END X-----"})
    done = _validate(tmp_path, json.dumps(_job(services=[service])))
    assert done.returncode == 0, done.stderr
