"""The engine's Terraform settings: constraints, mirror layouts, module paths, CLI options."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from qengine._cli.engine_opts import add_engine_options, terraform_settings
from qengine._cli.main import main
from qengine._errors import InvalidInputError
from qengine.interfaces import CancelToken
from qengine.plugin import JobSecrets, JobServices, Registry
from qengine.spec import InfrastructureJob
from qengine.terraform import (
    ProviderSources,
    Terraform,
    TerraformSettings,
    TerraformSettingsError,
    Workspace,
    mirror_versions,
    terraform_settings_of,
)
from qengine.terraform.json_types import Json
from qengine.terraform.settings import current_platform, local_module_path
from qengine.terraform.versions import satisfies

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "aws-eks" / "job.json"


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("6.28.0", ">= 6.28", True),
        ("6.27.9", ">= 6.28", False),
        ("7.0.0", ">= 6.28, < 7.0", False),
        ("6.30.1", ">= 6.28, < 7.0", True),
        ("6.30.1", "~> 6.28", True),
        ("7.0.0", "~> 6.28", False),
        ("6.28.9", "~> 6.28.3", True),
        ("6.29.0", "~> 6.28.3", False),
        ("6.28.0", "6.28.0", True),
        ("6.28.0", "!= 6.28.0", False),
        ("6.30.0-beta1", ">= 6.28", False),
        ("6.28.0", "> 6.28", False),
    ],
)
def test_version_constraints(version: str, constraint: str, expected: bool) -> None:
    assert satisfies(version, constraint) is expected


def test_an_unreadable_constraint_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Terraform version constraint"):
        satisfies("6.28.0", ">= six")


def _executable(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 1\n")
    path.chmod(0o755)


def test_mirror_versions_reads_both_layouts_for_the_platform(tmp_path: Path) -> None:
    here = current_platform()
    aws = tmp_path / "registry.terraform.io" / "hashicorp" / "aws"
    _executable(aws / "6.30.0" / here / "terraform-provider-aws_v6.30.0_x5")
    _executable(aws / "6.2.0" / "windows_386" / "terraform-provider-aws_v6.2.0_x5.exe")
    (aws / f"terraform-provider-aws_6.31.0_{here}.zip").write_bytes(b"PK")
    (aws / "terraform-provider-aws_6.32.0_darwin_arm64.zip").write_bytes(b"PK")
    assert mirror_versions(tmp_path, "hashicorp/aws") == ["6.30.0", "6.31.0"]
    assert mirror_versions(tmp_path, "registry.terraform.io/hashicorp/aws") == ["6.30.0", "6.31.0"]
    assert mirror_versions(tmp_path, "hashicorp/aws", "windows_386") == ["6.2.0"]
    assert mirror_versions(tmp_path, "hashicorp/tls") == []
    assert mirror_versions(tmp_path / "absent", "hashicorp/aws") == []


def test_module_paths_follow_the_registry_address(tmp_path: Path) -> None:
    settings = TerraformSettings(module_dir=tmp_path / "modules")
    expected = (tmp_path / "modules/terraform-aws-modules/vpc/aws/6.6.0").resolve()
    assert settings.module_path("terraform-aws-modules/vpc/aws", "6.6.0") == expected
    assert TerraformSettings().module_path("terraform-aws-modules/vpc/aws", "6.6.0") is None
    with pytest.raises(ValueError, match="not a registry module source"):
        local_module_path(tmp_path, "./vpc", "1.0.0")


def test_settings_are_read_from_the_services_or_default() -> None:
    given = TerraformSettings(sources=ProviderSources(mirror_dir=Path("/m")))

    def services(settings: dict[str, object]) -> JobServices:
        job = object.__new__(InfrastructureJob)  # the settings are all that is read
        return JobServices(
            job=job, secrets=JobSecrets(None), registry=Registry(), settings=settings
        )

    assert terraform_settings_of(services({"terraform": given})) is given
    assert terraform_settings_of(services({})) == TerraformSettings()
    assert terraform_settings_of(services({"terraform": {"mirror": "/m"}})) == TerraformSettings()
    assert not TerraformSettings().can_install_providers
    assert given.can_install_providers


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_engine_options(parser)
    return parser.parse_args(list(argv))


def test_cli_options_become_settings(tmp_path: Path) -> None:
    for name in ("mirror", "cache", "modules"):
        (tmp_path / name).mkdir()
    args = _parse(
        "--terraform-provider-mirror",
        str(tmp_path / "mirror"),
        "--terraform-plugin-cache",
        str(tmp_path / "cache"),
        "--terraform-module-dir",
        str(tmp_path / "modules"),
    )
    assert terraform_settings(args) == TerraformSettings(
        sources=ProviderSources(
            mirror_dir=(tmp_path / "mirror").resolve(),
            plugin_cache_dir=(tmp_path / "cache").resolve(),
        ),
        module_dir=(tmp_path / "modules").resolve(),
    )
    assert terraform_settings(_parse()) == TerraformSettings()


@pytest.mark.parametrize(
    "flag",
    ["--terraform-provider-mirror", "--terraform-plugin-cache", "--terraform-module-dir"],
)
def test_cli_refuses_a_missing_directory_naming_the_flag(tmp_path: Path, flag: str) -> None:
    with pytest.raises(InvalidInputError, match=f"^{flag}: .* does not exist"):
        terraform_settings(_parse(flag, str(tmp_path / "absent")))
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidInputError, match=f"^{flag}: .* is not a directory"):
        terraform_settings(_parse(flag, str(tmp_path / "file")))


def test_qengine_run_exits_2_on_a_missing_mirror_before_opening_the_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    missing = tmp_path / "no-mirror"
    code = main(
        [
            "run",
            str(EXAMPLE),
            "--state-dir",
            str(state),
            "--terraform-provider-mirror",
            str(missing),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: --terraform-provider-mirror: {missing} does not exist" in err
    assert "terraform providers mirror" in err
    assert not state.exists()


def test_qengine_plan_takes_the_options_too(tmp_path: Path) -> None:
    missing = tmp_path / "no-modules"
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from qengine._cli.main import main; sys.exit(main(sys.argv[1:]))",
            "plan",
            str(EXAMPLE),
            "--state-dir",
            str(tmp_path / "state"),
            "--terraform-module-dir",
            str(missing),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    assert completed.returncode == 2, completed.stderr
    assert f"--terraform-module-dir: {missing} does not exist" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    ("provider", "needle"),
    [
        ({"source": "hashicorp/tls"}, "was not found in any of the search locations"),
        ({"source": "hashicorp/aws", "version": ">= 6.28"}, "no available releases match"),
    ],
    ids=["absent", "too-old"],
)
def test_a_provider_the_mirror_cannot_serve_is_a_settings_error(
    terraform_binary: Path, tmp_path: Path, provider: dict[str, str], needle: str
) -> None:
    mirror = tmp_path / "mirror"
    _executable(
        mirror / "registry.terraform.io/hashicorp/aws/6.2.0" / current_platform() / "provider"
    )
    name = provider["source"].rsplit("/", 1)[1]
    with Workspace.create(sources=ProviderSources(mirror_dir=mirror)) as workspace:
        requirement: dict[str, Json] = dict(provider)
        workspace.write_root_module({"terraform": {"required_providers": {name: requirement}}})
        tf = Terraform(workspace, cancel=CancelToken())
        with pytest.raises(TerraformSettingsError) as info:
            tf.init()
    assert needle in str(info.value)
    assert "--terraform-provider-mirror" in info.value.hint
    assert "terraform providers mirror" in info.value.hint
    assert info.value.exit_code == 2


def test_relative_source_paths_are_made_absolute_for_terraform(tmp_path: Path) -> None:
    """terraform runs inside the workspace, where a relative path would mean something else."""
    from qengine.terraform.cliconfig import cli_config

    config = cli_config(
        ProviderSources(mirror_dir=Path("mirror"), plugin_cache_dir=Path("cache")), tmp_path
    )
    installation = config["provider_installation"][0]  # type: ignore[index]
    assert installation["filesystem_mirror"][0]["path"] == str(Path.cwd() / "mirror")  # type: ignore[call-overload,index]
    assert config["plugin_cache_dir"] == str(Path.cwd() / "cache")


_ENGINE_PROBE = """
import json, sys
from qengine._cli.main import build_parser
from qengine._cli.engine_opts import engine_from
args = build_parser().parse_args(["run", "--state-dir", sys.argv[1], *sys.argv[2:], "job.json"])
with engine_from(args) as engine:
    print(json.dumps(["qengine.terraform" in sys.modules, "terraform" in engine.settings]))
"""


def test_the_engine_gets_terraform_settings_only_from_terraform_options(tmp_path: Path) -> None:
    """Without them the services use the defaults, and the driver is not imported."""
    probe = [sys.executable, "-c", _ENGINE_PROBE, str(tmp_path / "state")]
    done = subprocess.run(probe, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [False, False]
    given = ["--terraform-module-dir", str(tmp_path)]
    done = subprocess.run([*probe, *given], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [True, True]
