"""A Helm service's local chart is read inside the engine's chart root and nowhere else.

The class: a spec value that names a place on the engine's machine. Without a declared root,
inside it through a symlinked directory, or through a link in the chart, a local chart must be
refused before anything is applied (exit 2 naming the spec path), never read from the engine's
working directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from k8s_support import QUICKSTART, ROOT
from qengine_kubernetes.charts import local_chart

from qengine.plugin import InvalidInputError

PLUGIN_DIR = ROOT / "plugins" / "kubernetes"
SECRETS = QUICKSTART.with_name("secrets.json")
CHART = "apiVersion: v2\nname: demo\nversion: 0.1.0\n"
TEMPLATE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n"
    "data:\n  greeting: hello\n"
)
WHERE = "$.environment.services[0].chart.path"


def _chart(directory: Path) -> Path:
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text(CHART)
    (directory / "templates" / "objects.yaml").write_text(TEMPLATE)
    return directory


def test_a_chart_inside_the_root_is_resolved(tmp_path: Path) -> None:
    chart = _chart(tmp_path / "charts" / "demo")
    assert local_chart(str(tmp_path), "charts/demo", WHERE) == chart.resolve()


@pytest.mark.parametrize("root", [None, ""])
def test_without_a_root_a_local_chart_is_refused(root: str | None) -> None:
    with pytest.raises(InvalidInputError) as refused:
        local_chart(root, "charts/demo", WHERE)
    assert WHERE in refused.value.message
    assert "--chart-root" in (refused.value.hint or "")


def test_a_symlinked_directory_leading_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = _chart(tmp_path / "outside" / "demo")
    root = tmp_path / "checkout"
    root.mkdir()
    (root / "charts").symlink_to(outside.parent, target_is_directory=True)
    with pytest.raises(InvalidInputError, match="leaves the chart root"):
        local_chart(str(root), "charts/demo", WHERE)


def test_a_link_in_the_chart_to_a_file_outside_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret.txt"
    secret.write_text("not for the cluster")
    root = tmp_path / "checkout"
    chart = _chart(root / "charts" / "demo")
    (chart / "templates" / "stolen.yaml").symlink_to(secret)
    with pytest.raises(InvalidInputError, match="links outside the chart root"):
        local_chart(str(root), "charts/demo", WHERE)


def test_a_link_that_stays_inside_the_root_is_allowed(tmp_path: Path) -> None:
    chart = _chart(tmp_path / "charts" / "demo")
    (tmp_path / "shared.yaml").write_text("greeting: hi\n")
    (chart / "values.yaml").symlink_to(tmp_path / "shared.yaml")
    assert local_chart(str(tmp_path), "charts/demo", WHERE) == chart.resolve()


@pytest.mark.parametrize("path", ["missing", "Chart.yaml"])
def test_a_path_that_is_no_directory_is_refused(tmp_path: Path, path: str) -> None:
    (tmp_path / "Chart.yaml").write_text(CHART)
    with pytest.raises(InvalidInputError, match="no chart directory"):
        local_chart(str(tmp_path), path, WHERE)


def _helm_job(tmp_path: Path) -> Path:
    document: dict[str, Any] = json.loads(QUICKSTART.read_text())
    document["id"] = "chart-root-1"
    document["environment"]["services"] = [
        {"kind": "helm", "name": "cache", "chart": {"name": "demo", "path": "charts/demo"}}
    ]
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(document))
    return spec


def _run(
    spec: Path, cwd: Path, *extra: str, helm: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(PLUGIN_DIR)]),
        "QENGINE_PLUGINS": "kubernetes",
    }
    if helm is not None:
        env["QENGINE_HELM"] = str(helm)
    argv = [sys.executable, "-m", "qengine", "run", str(spec), "--sandbox"]
    argv += ["--state-dir", str(cwd / "state"), "--output", "json", *extra]
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=180, check=False
    )


def test_the_engines_working_directory_is_never_a_chart_source(tmp_path: Path) -> None:
    """The chart sits in the working directory, as it did by default before: refused."""
    _chart(tmp_path / "charts" / "demo")
    done = _run(_helm_job(tmp_path), tmp_path)
    assert done.returncode == 2, done.stderr
    assert "needs a chart root" in done.stderr
    assert "Traceback" not in done.stderr
    assert "$.environment.services[cache].chart.path" in done.stderr


def test_chart_root_is_read_in_a_sandbox_run(tmp_path: Path, helm_binary: Path) -> None:
    checkout = tmp_path / "checkout"
    _chart(checkout / "charts" / "demo")
    done = _run(_helm_job(tmp_path), tmp_path, "--chart-root", str(checkout), helm=helm_binary)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["status"] == "succeeded"


def test_a_chart_root_that_is_no_directory_is_refused(tmp_path: Path) -> None:
    done = _run(_helm_job(tmp_path), tmp_path, "--chart-root", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "--chart-root" in done.stderr
    assert "Traceback" not in done.stderr
