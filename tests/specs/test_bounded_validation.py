"""Untrusted input costs bounded work: validation of large or hostile specs ends promptly.

Each spec is validated by a real ``qengine validate`` process with only the test plugin (the
core's own checks: a plugin's checks carry their own cost). The bound is the process's
timeout, set far above what linear work takes and far below what quadratic work on the
same input would (hours): a timeout, not a measurement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BOUND_SECONDS = 120


def _job(services: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "bounded-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": "a"},
        "environment": {"id": "env-1", "name": "env-1", "services": services},
        **extra,
    }


def _chain(count: int, *, cycle: bool) -> list[dict[str, Any]]:
    services: list[dict[str, Any]] = [
        {"kind": "container", "name": f"s{i}", "image": "registry.example.com/app", "tag": "1"}
        for i in range(count)
    ]
    for i in range(1, count):
        services[i]["depends_on"] = [f"s{i - 1}"]
    if cycle:
        services[0]["depends_on"] = [f"s{count - 1}"]
    return services


def _validate(tmp_path: Path, document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(document))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "QENGINE_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    argv = [sys.executable, "-m", "qengine", "-p", "qengine.testing.plugin", "validate", str(spec)]
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=BOUND_SECONDS, check=False
    )


def test_a_chain_of_3000_services_validates(tmp_path: Path) -> None:
    done = _validate(tmp_path, _job(_chain(3000, cycle=False)))
    assert done.returncode == 0, done.stderr
    assert "3000 services" in done.stdout


def test_a_cycle_through_3000_services_is_refused_with_its_path(tmp_path: Path) -> None:
    done = _validate(tmp_path, _job(_chain(3000, cycle=True)))
    assert done.returncode == 2, done.stderr
    assert "$.environment.services[s0].depends_on: forms a dependency cycle" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr) < 2000  # the message names the cycle, it does not list it all


@pytest.mark.parametrize(
    "hostile",
    [
        # Backtracking bait for a YAML-injection check: many line breaks, then a long word.
        "\n" * 400_000 + "a" * 400_000,
        "\n a" * 300_000,
    ],
    ids=["newlines-then-word", "indented-words"],
)
def test_hostile_helm_values_are_checked_in_bounded_time(tmp_path: Path, hostile: str) -> None:
    services = [
        {
            "kind": "helm",
            "name": "chart",
            "chart": {"name": "c", "path": "charts/c"},
            "values": {"note": hostile},
        }
    ]
    done = _validate(tmp_path, _job(services))
    assert done.returncode in (0, 2), done.stderr
    assert "Traceback" not in done.stderr


def test_the_audit_address_check_is_linear() -> None:
    """A record field of two million address-like characters (no ``@``) is checked at once."""
    probe = (
        "from qengine.audit._chain import contains_email as c; "
        "assert not c('a' * 2_000_000); assert not c('a@' + 'b.' * 1_000_000 + '!'); "
        "assert c('x' * 1_000_000 + '@example.com')"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=BOUND_SECONDS)


def test_the_error_message_stays_small_whatever_the_spec(tmp_path: Path) -> None:
    """Thousands of problems, one of them quoting a long value: the message is bounded."""
    services = _chain(3000, cycle=False)
    for service in services:
        service["depends_on"] = ["nowhere"]
    services[0]["image"] = "registry.example.com/app:" + "x" * 200_000 + "!"
    extra = {f"unknown_{i}": i for i in range(2000)}
    done = _validate(tmp_path, _job(services, **extra))
    assert done.returncode == 2, done.stderr
    assert "more problems not shown" in done.stderr
    assert len(done.stderr) < 50_000


def test_misspellings_everywhere_are_suggested_in_bounded_time(tmp_path: Path) -> None:
    """Suggestions (difflib) for thousands of misspelt keys and names: only those of the
    problems shown are computed, the cross-field checks of the well-formed services still run,
    and the message stays small."""
    services = _chain(3000, cycle=False)
    for index, service in enumerate(services):
        service["depends_on"] = [f"s{index}x"]  # close to a real name: a suggestion each
        if index % 2:
            service["replica"] = 2  # a field error: the service is left out of the checks
    done = _validate(tmp_path, _job(services))
    assert done.returncode == 2, done.stderr
    shown = "$.environment.services[s0].depends_on[0]: names no service of the environment: "
    assert shown + "'s0x' (did you mean 's0'?)" in done.stderr
    assert "more problems not shown" in done.stderr
    assert len(done.stderr) < 50_000
