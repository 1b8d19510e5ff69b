"""The plugin system: entry points, failures reported and skipped, duplicates, knobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Literal

import attrs
import pytest

from qengine import (
    InvalidInputError,
    PluginError,
    Registry,
    SpecError,
    SpecIssue,
    hookimpl,
    load_plugins,
)
from qengine.spec import Job, TargetSpec


@attrs.frozen(kw_only=True)
class MoonTarget(TargetSpec):
    """A test-only target section."""

    kind: Literal["moon"]
    crater: str


class MoonPlugin:
    @hookimpl
    def qengine_register(self, registry: Registry) -> None:
        registry.add_target("moon", MoonTarget, lambda: None, "test target")


class RivalPlugin:
    @hookimpl
    def qengine_register(self, registry: Registry) -> None:
        registry.add_target("moon", MoonTarget, lambda: None)


class BrokenPlugin:
    @hookimpl
    def qengine_register(self, registry: Registry) -> None:
        registry.add_target("half", MoonTarget, lambda: None)
        raise RuntimeError("boom")


class PolicyPlugin:
    @hookimpl
    def qengine_check_job(self, job: Job) -> list[SpecIssue]:
        return [SpecIssue("$.actor.id", "is not allowed by policy")] if job.actor.id == "x" else []


def _moon_job(**extra: object) -> dict[str, object]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "j",
        "organization": {"id": "o"},
        "actor": {"id": "a"},
        "action": "deploy",
        "target": {"kind": "moon", "crater": "tycho"},
        "environment": {"id": "e", "name": "e"},
        **extra,
    }


def test_a_registered_section_is_structured_into_its_class() -> None:
    plugins = load_plugins(autoload=False, plugins=[("moon", MoonPlugin())])
    job = plugins.loader.load(_moon_job())
    assert job.target == MoonTarget(kind="moon", crater="tycho")  # type: ignore[union-attr]


def test_unknown_kind_names_the_known_ones() -> None:
    plugins = load_plugins(autoload=False, plugins=[("moon", MoonPlugin())])
    with pytest.raises(SpecError) as caught:
        plugins.loader.load({**_moon_job(), "target": {"kind": "mars"}})
    (issue,) = caught.value.issues
    assert issue.path == "$.target"
    assert "'mars'" in issue.message
    assert "moon" in issue.message


def test_duplicate_kind_names_both_plugins_and_disables_the_second() -> None:
    plugins = load_plugins(
        autoload=False, plugins=[("moon", MoonPlugin()), ("rival", RivalPlugin())]
    )
    info = {p.name: p for p in plugins.plugins}
    assert info["moon"].loaded
    assert not info["rival"].loaded
    assert "'moon'" in info["rival"].error
    assert "'rival'" in info["rival"].error


def test_duplicate_kind_is_fatal_when_strict() -> None:
    with pytest.raises(PluginError, match="registered by both plugin 'moon' and plugin 'rival'"):
        load_plugins(
            autoload=False, strict=True, plugins=[("moon", MoonPlugin()), ("rival", RivalPlugin())]
        )


def test_plugin_failing_to_register_is_skipped_with_nothing_left_behind() -> None:
    plugins = load_plugins(autoload=False, plugins=[("broken", BrokenPlugin())])
    (info,) = plugins.plugins
    assert not info.loaded
    assert "boom" in info.error
    assert plugins.registry.entries() == ()


def test_policy_hook_vetoes_a_job() -> None:
    plugins = load_plugins(
        autoload=False, plugins=[("moon", MoonPlugin()), ("policy", PolicyPlugin())]
    )
    with pytest.raises(SpecError) as caught:
        plugins.loader.load({**_moon_job(), "actor": {"id": "x"}})
    assert [i.path for i in caught.value.issues] == ["$.actor.id"]


def test_allow_and_block_lists() -> None:
    only_aws = load_plugins(environ={"QENGINE_PLUGINS": "aws"})
    assert [p.name for p in only_aws.plugins] == ["aws"]
    no_aws = load_plugins(environ={"QENGINE_DISABLE_PLUGINS": "aws"})
    assert "aws" not in [p.name for p in no_aws.plugins]
    none = load_plugins(environ={"QENGINE_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert none.plugins == ()


def test_a_misspelled_allow_list_name_is_named_with_the_installed_plugins(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plugins = load_plugins(environ={"QENGINE_PLUGINS": "aws, kubernets"})
    assert [p.name for p in plugins.plugins] == ["aws"]
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("warning: QENGINE_PLUGINS names 'kubernets', which is no installed")
    assert "(did you mean 'kubernetes'?)" in line
    assert "installed plugins: addons, aws, " in line
    assert "'aws'" not in line


def test_a_misspelled_block_list_name_is_named_and_blocks_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plugins = load_plugins(environ={"QENGINE_DISABLE_PLUGINS": "gpc"})
    assert "gcp" in [p.name for p in plugins.plugins]
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("warning: QENGINE_DISABLE_PLUGINS names 'gpc'")
    assert "(did you mean 'gcp'?)" in line


def test_an_allow_list_naming_only_a_plugin_given_by_the_host_is_no_typo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plugins = load_plugins(environ={"QENGINE_PLUGINS": "moon"}, plugins=[("moon", MoonPlugin())])
    assert [p.name for p in plugins.plugins] == ["moon"]
    assert capsys.readouterr().err == ""


def test_an_allow_list_naming_no_installed_plugin_is_refused() -> None:
    with pytest.raises(
        InvalidInputError, match=r"names no installed plugin \(kubernets\)"
    ) as caught:
        load_plugins(environ={"QENGINE_PLUGINS": "kubernets"})
    assert "Did you mean 'kubernetes'?" in caught.value.hint
    assert "Installed plugins: addons, aws, " in caught.value.hint


def test_the_command_line_refuses_an_allow_list_naming_no_installed_plugin() -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "quickstart" / "job.json"
    done = subprocess.run(
        [sys.executable, "-m", "qengine", "validate", str(example)],
        env={**os.environ, "QENGINE_PLUGINS": "kubernets"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error: QENGINE_PLUGINS names no installed plugin (kubernets)" in done.stderr
    assert "Did you mean 'kubernetes'?" in done.stderr
    assert "Traceback" not in done.stderr


def _fake_distribution(root: Path, module_source: str) -> dict[str, str]:
    """A real installed distribution (dist-info + module) on a private path."""
    dist = root / "qengine_broken-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: qengine-broken\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[qengine]\nbroken = qengine_broken_plugin\n")
    (root / "qengine_broken_plugin.py").write_text(textwrap.dedent(module_source))
    return {**os.environ, "PYTHONPATH": str(root)}


def test_entry_point_that_fails_to_import_is_reported_and_skipped(tmp_path: Path) -> None:
    env = _fake_distribution(tmp_path, "raise ImportError('missing SDK')\n")
    listed = subprocess.run(
        [sys.executable, "-m", "qengine", "plugins", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["broken"]["loaded"] is False
    assert "missing SDK" in plugins["broken"]["error"]
    assert plugins["aws"]["loaded"] is True
    strict = subprocess.run(
        [sys.executable, "-m", "qengine", "--strict-plugins", "plugins"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert strict.returncode == 1
    assert "plugin 'broken' failed to load" in strict.stderr
    assert "Traceback" not in strict.stderr


def test_entry_points_are_found_as_importlib_metadata_finds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing of entry_points.txt files agrees with importlib.metadata, group by group,
    a distribution earlier on sys.path hiding a later one of the same name included."""
    from importlib import metadata

    from qengine._plugins import _entry_points

    early, late = tmp_path / "early", tmp_path / "late"
    for root, value in ((early, "first_module"), (late, "second_module")):
        dist = root / "Qengine.Shadow-1.0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: qengine.shadow\nVersion: 1\n")
        (dist / "entry_points.txt").write_text(
            f"# comment\n[qengine]\nshadow = {value}:attr [extra]\n\n[other]\nx = y\n"
        )
    monkeypatch.syspath_prepend(str(late))
    monkeypatch.syspath_prepend(str(early))
    for group in ("qengine", "console_scripts", "pytest11", "other"):
        listed = _entry_points(group)
        assert listed is not None
        ours = sorted((e.name, getattr(e, "value", "")) for e in listed)
        theirs = sorted((e.name, e.value) for e in metadata.entry_points(group=group))
        assert ours == theirs, group
        if group == "qengine":
            assert ("shadow", "first_module:attr [extra]") in ours
            assert ("shadow", "second_module:attr [extra]") not in ours


def test_a_plugin_in_a_zip_archive_on_the_path_is_found_through_importlib_metadata(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(
            "qengine_zipped-0.1.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: qengine-zipped\nVersion: 0.1\n",
        )
        bundle.writestr(
            "qengine_zipped-0.1.dist-info/entry_points.txt", "[qengine]\nzipped = zipped_plugin\n"
        )
        bundle.writestr("zipped_plugin.py", "")
    listed = subprocess.run(
        [sys.executable, "-m", "qengine", "plugins", "--output", "json"],
        env={**os.environ, "PYTHONPATH": str(archive)},
        capture_output=True,
        text=True,
        check=True,
    )
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["zipped"]["distribution"] == "qengine-zipped"
    assert plugins["zipped"]["version"] == "0.1"
    assert plugins["aws"]["distribution"] == "qengine-aws"


_LAZY_SECTION = """
from typing import Literal

import attrs

from qengine.spec import TargetSpec


@attrs.frozen(kw_only=True)
class LazyTarget(TargetSpec):
    kind: Literal["lazy"]
    depth: int
"""


class LazyPlugin:
    @hookimpl
    def qengine_register(self, registry: Registry) -> None:
        registry.add_target("lazy", "lazy_sections:LazyTarget", lambda: None, "by import path")


def test_a_section_named_by_import_path_is_imported_only_for_a_job_of_its_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lazy_sections.py").write_text(_LAZY_SECTION)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_sections", raising=False)
    plugins = load_plugins(autoload=False, plugins=[("moon", MoonPlugin()), ("lazy", LazyPlugin())])
    plugins.loader.load(_moon_job())
    with pytest.raises(SpecError, match="did you mean 'lazy'"):
        plugins.loader.load({**_moon_job(), "target": {"kind": "lazzy"}})
    assert "lazy_sections" not in sys.modules
    job = plugins.loader.load({**_moon_job(), "target": {"kind": "lazy", "depth": 3}})
    assert type(job.target).__name__ == "LazyTarget"
    assert job.target.depth == 3  # type: ignore[union-attr]
    entry = plugins.registry.get(TargetSpec.family, "lazy")
    assert entry.spec_type is type(job.target)


def test_a_section_path_that_is_no_import_path_disables_the_plugin() -> None:
    class Misnamed:
        @hookimpl
        def qengine_register(self, registry: Registry) -> None:
            registry.add_target("bad", "lazy_sections.LazyTarget", lambda: None)

    (info,) = load_plugins(autoload=False, plugins=[("bad", Misnamed())]).plugins
    assert not info.loaded
    assert "'lazy_sections.LazyTarget', which is no import path" in info.error


def test_a_section_path_that_cannot_be_imported_names_the_plugin_when_used() -> None:
    class Missing:
        @hookimpl
        def qengine_register(self, registry: Registry) -> None:
            registry.add_target("gone", "no_such_module_here:Gone", lambda: None)

    plugins = load_plugins(autoload=False, plugins=[("gone", Missing())])
    entry = plugins.registry.get(TargetSpec.family, "gone")
    with pytest.raises(PluginError, match="plugin 'gone' registered the cluster target kind"):
        assert entry.spec_type is None
    with pytest.raises(SpecError) as caught:
        plugins.loader.load({**_moon_job(), "target": {"kind": "gone"}})
    assert "cannot be imported" in str(caught.value.issues)
