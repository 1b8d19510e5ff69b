"""Values from a spec never become a tool's flags, sources stay remote, and numbers, sizes,
durations and dates have sane bounds: each is refused at validation (exit 2) with its path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

GIT = {"url": "https://git.example.com/app.git", "commit": "a" * 40}


def _helm(**chart: Any) -> dict[str, Any]:
    return {"kind": "helm", "name": "chart", "chart": {"name": "c", "path": "charts/c"} | chart}


def _app(**fields: Any) -> dict[str, Any]:
    return {"kind": "application", "name": "app", "git": GIT} | fields


def _container(**fields: Any) -> dict[str, Any]:
    base = {"kind": "container", "name": "web", "image": "registry.example.com/web", "tag": "1"}
    return base | fields


# Issues name each service by its name.
HELM, APP, WEB = (f"$.environment.services[{name}]" for name in ("chart", "app", "web"))
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "chart-name-flag": (_helm(name="--post-renderer=/bin/sh"), f"{HELM}.chart.name"),
    "chart-version-flag": (_helm(version="--devel"), f"{HELM}.chart.version"),
    "chart-username-flag": (
        _helm(path=None, repository="https://charts.example.com", username="-u"),
        f"{HELM}.chart.username",
    ),
    "chart-path-dot": (_helm(path="."), f"{HELM}.chart.path"),
    "chart-repository-file": (
        _helm(path=None, repository="file:///etc/charts"),
        f"{HELM}.chart.repository",
    ),
    "git-url-file": (_app(git=GIT | {"url": "file:///srv/app.git"}), f"{APP}.git.url"),
    "git-branch-flag": (_app(git=GIT | {"branch": "--upload-pack=touch x"}), f"{APP}.git.branch"),
    "build-target-flag": (_app(build_target="--output=type=local,dest=/"), f"{APP}.build_target"),
    "replicas-huge": (_container(replicas=100_000), f"{WEB}.replicas"),
    "replicas-beyond-2^53": (_container(replicas=2**60), f"{WEB}.replicas"),
    "autoscaling-huge": (
        _container(autoscaling={"min_replicas": 1, "max_replicas": 10**7}),
        f"{WEB}.autoscaling.max_replicas",
    ),
    "duration-huge": (_helm() | {"timeout": "99999999999999999999h"}, f"{HELM}.timeout"),
    "duration-over-a-week": (_helm() | {"timeout": "200h"}, f"{HELM}.timeout"),
    "quantity-exponent": (_container(resources={"memory": "1e999"}), f"{WEB}.resources.memory"),
}


def _validate(tmp_path: Path, document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(document))
    env = {"PATH": os.environ.get("PATH", ""), "QENGINE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    argv = [sys.executable, "-m", "qengine", "-p", "qengine.testing.plugin", "validate", str(spec)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


def _job(services: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "bounds-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": "a"},
        "environment": {"id": "env-1", "name": "env-1", "services": services},
        **extra,
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_dangerous_value_is_refused_with_its_path(tmp_path: Path, case: str) -> None:
    service, path = CASES[case]
    service = {k: v for k, v in service.items() if v is not None}
    if "chart" in service:
        service["chart"] = {k: v for k, v in service["chart"].items() if v is not None}
    done = _validate(tmp_path, _job([service]))
    assert done.returncode == 2, done.stdout + done.stderr
    assert path + ":" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "not_after", ["2026-13-45T00:00:00Z", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"]
)
def test_an_impossible_date_is_refused(tmp_path: Path, not_after: str) -> None:
    done = _validate(tmp_path, _job([], not_after=not_after))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "$.not_after:" in done.stderr


def test_ordinary_values_still_validate(tmp_path: Path) -> None:
    services = [
        _helm(version="1.2.3"),
        _container(replicas=3, resources={"memory": "512Mi", "cpu": "250m"}),
    ]
    done = _validate(tmp_path, _job(services))
    assert done.returncode == 0, done.stderr
