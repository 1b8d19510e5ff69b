"""A plugin made from contrib/plugin-template, copied and renamed as its README says, then
installed with pip, runs a job of its kind; a copy with a misspelled hook is refused at load;
the tutorial (docs/plugins.md) quotes the template's code as it is."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qengine import Engine, PluginError, load_plugins
from qengine.runner import MemoryStateStore

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "contrib" / "plugin-template"
QENGINE = Path(sys.executable).with_name("qengine")


def _copy(name: str, destination: Path) -> Path:
    """The template copied to ``destination`` and renamed to ``name``, as its README says."""
    copy = destination / f"qengine-{name}"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*_cache")
    shutil.copytree(TEMPLATE, copy, ignore=ignore)
    (copy / "qengine_directory").rename(copy / f"qengine_{name}")
    for path in copy.rglob("*"):
        if path.suffix in (".py", ".toml", ".md"):
            text = path.read_text().replace("qengine_directory", f"qengine_{name}")
            path.write_text(text.replace("qengine-directory", f"qengine-{name}"))
    _edit(copy / "pyproject.toml", "\ndirectory = ", f"\n{name} = ")
    spec = copy / f"qengine_{name}" / "spec.py"
    _edit(spec, 'NAME = "directory"', f'NAME = "{name}"')
    _edit(spec, 'Literal["directory"]', f'Literal["{name}"]')
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer has {old!r}: update the template's README"
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where pip installed ``moon`` (a renamed copy) and ``broken`` (a renamed
    copy whose ``qengine_register`` is misspelled)."""
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("building the template needs its build backend here: pip install hatchling")
    work = tmp_path_factory.mktemp("template")
    moon = _copy("moon", work)
    broken = _copy("broken", work)
    _edit(broken / "qengine_broken" / "plugin.py", "def qengine_register(", "def qengine_regster(")
    target = work / "site"
    # No build isolation and no dependencies: nothing is fetched, qengine is the one installed.
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    options = ["--no-deps", "--no-build-isolation", "--no-index", "--target", str(target)]
    subprocess.run([*command, *options, str(moon), str(broken)], check=True, timeout=300)
    return target


def _job(path: Path) -> dict[str, object]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "moon-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "moon", "path": str(path)},
        "environment": {
            "id": "shop",
            "name": "shop",
            "services": [{"kind": "container", "name": "web", "image": "nginx", "tag": "1"}],
        },
    }


def _qengine(site: Path, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    environ = {**os.environ, "PYTHONPATH": path, "QENGINE_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run(
        [str(QENGINE), *argv], capture_output=True, text=True, env=environ, timeout=120
    )


def test_the_renamed_copy_runs_a_job_of_its_kind_with_qengine_run(
    site: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(_job(tmp_path / "out")))
    result = _qengine(site, tmp_path, "run", str(spec))
    assert result.returncode == 0, result.stderr
    assert "moon/service/web" in result.stderr
    written = json.loads((tmp_path / "out" / "shop" / "web.json").read_text())
    assert written["service"]["image"] == "nginx"


def test_the_renamed_copy_runs_a_job_of_its_kind_with_engine_run(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(site))
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "moon"})
    assert [info.distribution for info in plugins.plugins] == ["qengine-moon"]
    result = Engine(plugins, store=MemoryStateStore()).run(_job(tmp_path / "out"))
    assert result.status.value == "succeeded", result.error
    assert (tmp_path / "out" / "shop" / "web.json").exists()


def test_the_copy_with_a_misspelled_hook_is_refused_at_load_naming_it(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = _qengine(site, tmp_path, "plugins")
    assert listed.returncode == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith("broken ")]
    assert "DISABLED" in line
    assert "'qengine_regster' is not a qengine hook (did you mean 'qengine_register'?)" in line
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(PluginError, match="plugin 'broken' failed to load: 'qengine_regster'"):
        load_plugins(strict=True, environ={"QENGINE_PLUGINS": "broken"})


def test_the_tutorial_shows_the_templates_own_code() -> None:
    tutorial = (ROOT / "docs" / "plugins.md").read_text()
    excerpts = re.findall(r"<!-- excerpt: (\S+) -->\n```\w+\n(.*?)```", tutorial, re.DOTALL)
    assert len(excerpts) >= 10
    for path, code in excerpts:
        assert code in (ROOT / path).read_text(), f"docs/plugins.md quotes {path} wrongly:\n{code}"
