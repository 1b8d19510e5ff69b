"""The per-job workspace and the CLI configuration that keeps provider installs offline."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from qengine import InvalidInputError, QengineError
from qengine.interfaces import CancelToken
from qengine.terraform import (
    ProviderSources,
    Terraform,
    TerraformNotFoundError,
    Workspace,
    find_terraform,
)
from qengine.terraform.cliconfig import cli_config
from qengine.terraform.json_types import Json


def test_workspace_is_private_and_removed_afterwards() -> None:
    with Workspace.create() as workspace:
        path = workspace.path
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        module = workspace.write_root_module({"resource": {"terraform_data": {"a": {}}}})
        assert module == path / "main.tf.json"
        assert stat.S_IMODE(module.stat().st_mode) == 0o600
        assert json.loads(module.read_text()) == {"resource": {"terraform_data": {"a": {}}}}
        assert workspace.cli_config_file.is_file()
    assert not path.exists()


def test_workspace_is_removed_when_the_job_fails() -> None:
    with pytest.raises(RuntimeError), Workspace.create() as workspace:  # noqa: PT012
        path = workspace.path
        raise RuntimeError("step failed")
    assert not path.exists()


def _backend(workspace: Workspace, module: dict[str, Json]) -> str | None:
    workspace.write_root_module(module)
    return workspace.backend_type


def test_declared_backend_is_recognised(tmp_path: Path) -> None:
    with Workspace.create(parent=tmp_path) as workspace:
        assert workspace.path.parent == tmp_path.resolve()
        assert _backend(workspace, {"terraform": {"backend": {"s3": {}}}}) == "s3"
        assert _backend(workspace, {"terraform": [{"required_version": ">= 1.11"}]}) is None
        with pytest.raises(InvalidInputError):
            workspace.write_root_module({"terraform": {"backend": {"s3": {}, "gcs": {}}}})


def test_cli_config_shapes(tmp_path: Path) -> None:
    offline = cli_config(ProviderSources(), tmp_path)
    assert offline == {
        "provider_installation": [
            {
                "filesystem_mirror": [{"path": str(tmp_path), "include": ["*/*/*"]}],
                "direct": [{"exclude": ["*/*/*"]}],
            }
        ]
    }
    mirrored = cli_config(ProviderSources(mirror_dir=Path("/m")), tmp_path)
    assert mirrored["provider_installation"][0]["filesystem_mirror"][0]["path"] == "/m"  # type: ignore[index,call-overload]
    cached = cli_config(ProviderSources(plugin_cache_dir=Path("/c")), tmp_path)
    assert cached == {"provider_installation": [{"direct": [{}]}], "plugin_cache_dir": "/c"}


def test_terraform_reads_our_cli_config_and_never_goes_to_the_registry(
    terraform_binary: Path,
) -> None:
    """A provider that is not builtin fails at once, naming our empty mirror, not the network."""
    with Workspace.create() as workspace:
        workspace.write_root_module(
            {"terraform": {"required_providers": {"null": {"source": "hashicorp/null"}}}}
        )
        lines: list[str] = []
        tf = Terraform(
            workspace, cancel=CancelToken(), on_line=lambda line: lines.append(line.text)
        )
        with pytest.raises(QengineError) as info:
            tf.init()
        mirror = str(workspace.private_dir / "empty-mirror")
        assert mirror in str(info.value)
        assert "hashicorp/null" in str(info.value)
        text = "\n".join(lines)
        assert "CLI configuration" not in text  # our file was read without complaint
        assert ".terraformrc" not in text


def test_builtin_only_module_works_with_a_local_state(terraform_binary: Path) -> None:
    with Workspace.create() as workspace:
        workspace.write_root_module({"output": {"answer": {"value": 42}}})
        tf = Terraform(workspace, cancel=CancelToken())
        tf.init()
        tf.apply(tf.plan())
        assert tf.outputs()["answer"].value == 42
        assert tf.outputs()["answer"].type == "number"


def test_a_missing_binary_fails_loudly_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(TerraformNotFoundError, match="not found") as info:
        find_terraform(tmp_path / "terraform")
    assert "Install Terraform 1.11" in info.value.hint
    with Workspace.create() as workspace, pytest.raises(TerraformNotFoundError):
        Terraform(workspace, cancel=CancelToken(), binary=tmp_path / "terraform")
