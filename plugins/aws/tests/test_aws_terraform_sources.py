"""Real runs get their providers and modules from the engine's Terraform settings.

The real blueprint's ``terraform init`` runs through the plugin's ``terraform_for`` with the
real ``terraform`` and its S3 backend on moto, against a filesystem mirror (terraform's
unpacked layout) holding a stand-in ``hashicorp/aws`` provider and a module directory holding
stub modules generated from ``modules.json``. The machine has no route to any registry, so
an init that succeeds got everything from those two directories.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_support import ACCOUNT, FAKE_KEY_ID, FAKE_SECRET, CountingRelay, client, secrets_of
from qengine_aws.actions import PREFLIGHT, AwsJob, steps_for
from qengine_aws.blueprint import BlueprintOptions, eks_root_module
from qengine_aws.export import export_job
from qengine_aws.modules import EKS, VPC, pinned
from qengine_aws.settings import AwsSettings
from qengine_aws.state_backend import StateLocation, ensure_state_backend
from qengine_aws.terraform_run import terraform_for
from qengine_aws.terraform_sources import aws_provider_constraint, check_terraform_sources

from qengine import Engine, load_plugins
from qengine.plugin import CancelToken
from qengine.runner import Executor, JobRef, JobStatus, MemoryStateStore, Plan, StepContext
from qengine.runner.steps import NoteKind, StepEmitter
from qengine.spec import InfrastructureJob
from qengine.terraform import ProviderSources, TerraformSettings, TerraformSettingsError
from qengine.terraform.settings import current_platform

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"
PROVIDER_VERSION = "6.30.0"
SECRETS = {"key_id": FAKE_KEY_ID, "secret_key": FAKE_SECRET, "aws_external_id": "ext-1"}


def _job() -> InfrastructureJob:
    document = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    provider = document["cluster"]["provider"]
    provider["state"] = {}
    provider["access_key_id"] = {"secret": "key_id"}
    provider["secret_access_key"] = {"secret": "secret_key"}
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def make_mirror(root: Path, versions: tuple[str, ...] = (PROVIDER_VERSION,)) -> Path:
    """A filesystem mirror (unpacked layout) with a stand-in ``hashicorp/aws`` per version.

    The stand-in is an executable that records being started in ``root/started``: init must
    install and lock it without ever running it."""
    marker = root / "started"
    for version in versions:
        target = root / "registry.terraform.io/hashicorp/aws" / version / current_platform()
        target.mkdir(parents=True)
        binary = target / f"terraform-provider-aws_v{version}_x5"
        binary.write_text(f"#!/bin/sh\necho started >> '{marker}'\nexit 1\n")
        binary.chmod(0o755)
    return root


def _stub_module(source: str) -> dict[str, Any]:
    module = pinned(source)
    settings: dict[str, Any] = {
        "required_providers": {
            name: {"source": req.source, "version": req.version}
            for name, req in module.providers.items()
        }
    }
    if module.required_terraform is not None:
        settings["required_version"] = module.required_terraform
    return {
        "terraform": settings,
        "variable": {name: {"type": "any", "default": None} for name in sorted(module.inputs)},
        "output": {name: {"value": None} for name in sorted(module.outputs)},
    }


def make_module_dir(root: Path, skip: tuple[str, ...] = ()) -> Path:
    """Stub modules laid out ``<root>/<namespace>/<name>/<provider>/<version>/main.tf.json``:
    a variable per documented input, an output per documented output, the providers the
    pinned module requires."""
    for source in (VPC, EKS):
        if source in skip:
            continue
        directory = root.joinpath(*source.split("/"), pinned(source).version)
        directory.mkdir(parents=True)
        (directory / "main.tf.json").write_text(json.dumps(_stub_module(source), indent=1))
    return root


class _Lines(StepEmitter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, step_id: str, kind: NoteKind, message: str) -> None:
        self.lines.append(message)


def _context(emitter: StepEmitter) -> StepContext:
    return StepContext(
        job_id="job-1",
        organization_id="org-a",
        target_id="cluster-prod-eu",
        step_id="aws.apply",
        idempotency_key="job-1/aws.apply",
        cancel=CancelToken(),
        emitter=emitter,
    )


def _location(aws: AwsJob) -> StateLocation:
    location, _ = ensure_state_backend(
        aws.access,
        aws.job.cluster.provider.state,  # type: ignore[attr-defined]
        cluster_id=aws.job.cluster.id,
        account=ACCOUNT,
        tls_only=False,
    )
    return location


@pytest.mark.parametrize("with_cache", [False, True], ids=["mirror", "mirror-and-cache"])
def test_the_real_blueprint_inits_from_the_mirror_and_module_dir(
    settings: AwsSettings, tmp_path: Path, with_cache: bool
) -> None:
    mirror = make_mirror(tmp_path / "mirror")
    modules = make_module_dir(tmp_path / "modules")
    cache = tmp_path / "cache" if with_cache else None
    if cache is not None:
        cache.mkdir()
    sources = ProviderSources(mirror_dir=mirror, plugin_cache_dir=cache)
    terraform = TerraformSettings(sources=sources, module_dir=modules)
    aws = AwsJob.of(_job(), secrets_of(SECRETS), settings, terraform)
    check_terraform_sources(terraform)
    emitter = _Lines()
    module = aws.module(BlueprintOptions())
    with terraform_for(
        _context(emitter),
        aws.access,
        module,
        _location(aws),
        allow_destructive=False,
        sources=terraform.sources,
    ) as tf:
        work = tf.workspace.path
        installed = (
            work / ".terraform/providers/registry.terraform.io/hashicorp/aws"
            f"/{PROVIDER_VERSION}/{current_platform()}"
        )
        # Terraform links the package from where it keeps it: the mirror, or the cache
        # it copied the mirror's package into.
        home = cache if cache is not None else mirror
        package = f"registry.terraform.io/hashicorp/aws/{PROVIDER_VERSION}/{current_platform()}"
        assert installed.is_symlink()
        assert installed.resolve() == (home / package).resolve()
        assert (installed / f"terraform-provider-aws_v{PROVIDER_VERSION}_x5").is_file()
        lock = (work / ".terraform.lock.hcl").read_text()
        assert 'provider "registry.terraform.io/hashicorp/aws"' in lock
        assert f'version     = "{PROVIDER_VERSION}"' in lock
        recorded = json.loads((work / ".terraform/modules/modules.json").read_text())["Modules"]
        fetched = {entry["Key"]: entry["Source"] for entry in recorded}
    for key, source in (("vpc", VPC), ("eks", EKS)):
        local = modules.resolve().joinpath(*source.split("/"), pinned(source).version)
        assert module["module"][key]["source"] == str(local)
        assert fetched[key] == f"file://{local}"
    # "unauthenticated": no registry signature, the package came from the mirror.
    installed_line = f"hashicorp/aws v{PROVIDER_VERSION} (unauthenticated)"
    assert f"Installed provider version: {installed_line}" in emitter.lines
    assert not (mirror / "started").exists()  # init installed the provider without running it


def test_init_fails_with_a_settings_error_when_the_mirror_lacks_the_provider(
    settings: AwsSettings, tmp_path: Path
) -> None:
    empty = tmp_path / "mirror"
    empty.mkdir()
    modules = make_module_dir(tmp_path / "modules")
    terraform = TerraformSettings(sources=ProviderSources(mirror_dir=empty), module_dir=modules)
    aws = AwsJob.of(_job(), secrets_of(SECRETS), settings, terraform)
    location = _location(aws)
    with (
        pytest.raises(TerraformSettingsError) as info,
        terraform_for(
            _context(StepEmitter()),
            aws.access,
            aws.module(BlueprintOptions()),
            location,
            allow_destructive=False,
            sources=terraform.sources,
        ),
    ):
        pytest.fail("init should have failed")
    assert "hashicorp/aws" in str(info.value)
    assert str(empty) in str(info.value)
    assert "--terraform-provider-mirror" in info.value.hint


def _preflight_only(aws: AwsJob) -> Any:
    steps = steps_for(aws)
    assert steps[0].id == PREFLIGHT
    ref = JobRef(job_id=aws.job.id, organization_id="org-a", target_id=aws.job.cluster.id)
    return Executor().run(Plan(steps), ref)


@pytest.mark.parametrize(
    "case",
    ["no-sources", "old-mirror", "missing-module"],
)
def test_preflight_refuses_before_any_request_and_creates_nothing(
    moto: str, tmp_path: Path, case: str
) -> None:
    sources = ProviderSources()
    module_dir = None
    if case == "old-mirror":
        sources = ProviderSources(mirror_dir=make_mirror(tmp_path / "mirror", ("6.2.0",)))
    if case == "missing-module":
        sources = ProviderSources(mirror_dir=make_mirror(tmp_path / "mirror"))
        module_dir = make_module_dir(tmp_path / "modules", skip=(EKS,))
    terraform = TerraformSettings(sources=sources, module_dir=module_dir)
    with CountingRelay(int(moto.rsplit(":", 1)[1])) as relay:
        settings = AwsSettings(endpoint_url=f"http://127.0.0.1:{relay.port}")
        result = _preflight_only(AwsJob.of(_job(), secrets_of(SECRETS), settings, terraform))
        assert relay.connections == 0
    assert result.status is JobStatus.FAILED
    outcome = result.outcome(PREFLIGHT)
    assert outcome.error is not None
    assert outcome.error.kind == "TerraformSettingsError"
    assert [step.step_id for step in result.steps if step.outputs] == []
    direct = AwsSettings(endpoint_url=moto)
    assert client(direct, "s3").list_buckets()["Buckets"] == []
    assert client(direct, "dynamodb").list_tables()["TableNames"] == []


def test_preflight_with_usable_sources_goes_on_to_aws(moto: str, tmp_path: Path) -> None:
    """The control of the test above: the same run with a good mirror does reach moto."""
    mirror = make_mirror(tmp_path / "mirror")
    terraform = TerraformSettings(sources=ProviderSources(mirror_dir=mirror))
    with CountingRelay(int(moto.rsplit(":", 1)[1])) as relay:
        settings = AwsSettings(endpoint_url=f"http://127.0.0.1:{relay.port}")
        aws = AwsJob.of(_job(), secrets_of(SECRETS), settings, terraform)
        ref = JobRef(job_id=aws.job.id, organization_id="org-a", target_id=aws.job.cluster.id)
        result = Executor().run(Plan(steps_for(aws)[:1]), ref)
        assert relay.connections > 0
    assert result.status is JobStatus.SUCCEEDED, result.error
    assert result.outputs[PREFLIGHT]["account"] == ACCOUNT


def test_refusals_name_the_flags_the_constraint_and_the_exact_path(tmp_path: Path) -> None:
    with pytest.raises(TerraformSettingsError) as none:
        check_terraform_sources(TerraformSettings())
    for needle in ("--terraform-provider-mirror", "--terraform-plugin-cache", "providers mirror"):
        assert needle in none.value.hint
    old = make_mirror(tmp_path / "old", ("6.2.0", "6.27.1"))
    with pytest.raises(TerraformSettingsError) as stale:
        check_terraform_sources(TerraformSettings(sources=ProviderSources(mirror_dir=old)))
    assert ">= 6.28" in str(stale.value)
    assert "6.2.0, 6.27.1" in str(stale.value)
    assert "registry.terraform.io/hashicorp/aws" in str(stale.value)
    modules = make_module_dir(tmp_path / "modules", skip=(VPC,))
    cached = ProviderSources(plugin_cache_dir=tmp_path)
    with pytest.raises(TerraformSettingsError) as missing:
        check_terraform_sources(TerraformSettings(sources=cached, module_dir=modules))
    expected = modules.resolve() / "terraform-aws-modules/vpc/aws/6.6.0"
    assert f"expected it at {expected}" in str(missing.value)
    check_terraform_sources(TerraformSettings(sources=cached))  # a cache alone: network allowed
    full = make_module_dir(tmp_path / "full")
    check_terraform_sources(TerraformSettings(sources=cached, module_dir=full))


def test_the_constraint_covers_the_root_module_and_every_pinned_module() -> None:
    assert aws_provider_constraint() == ">= 6.28"
    for source in (VPC, EKS):
        assert pinned(source).providers["aws"].source == "hashicorp/aws"
    root = eks_root_module(_job())
    assert root["terraform"]["required_providers"]["aws"]["version"] == ">= 6.28"


def test_module_sources_local_or_registry_and_export_keeps_the_registry(tmp_path: Path) -> None:
    job = _job()
    local = eks_root_module(job, module_dir=tmp_path)["module"]
    for key, source in (("vpc", VPC), ("eks", EKS)):
        assert local[key]["source"] == str(
            tmp_path.resolve().joinpath(*source.split("/"), pinned(source).version)
        )
        assert "version" not in local[key]
    registry = eks_root_module(job)["module"]
    assert registry["vpc"]["source"] == VPC
    assert registry["vpc"]["version"] == pinned(VPC).version
    export_job(job, tmp_path / "export")
    exported = json.loads((tmp_path / "export/terraform/aws/main.tf.json").read_text())
    assert exported["module"]["eks"] == {**registry["eks"]}


def test_where_modules_live_does_not_change_a_steps_content_hash(tmp_path: Path) -> None:
    settings = AwsSettings(endpoint_url="http://127.0.0.1:9")
    here = AwsJob.of(_job(), secrets_of(SECRETS), settings)
    there = AwsJob.of(_job(), secrets_of(SECRETS), settings, TerraformSettings(module_dir=tmp_path))
    options = BlueprintOptions()
    assert here.module_digest(options) == there.module_digest(options)
    assert here.module(options) != there.module(options)


def test_the_engine_gives_its_terraform_settings_to_the_steps(moto: str, tmp_path: Path) -> None:
    """Through ``Engine.run``: the engine's ``terraform`` settings reach the AWS steps, which
    refuse a run without provider sources before any request, and use a mirror they are given
    (the plan's Terraform settings are the engine's, not the defaults)."""
    document = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document["cluster"]["provider"]["state"] = {}
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    with CountingRelay(int(moto.rsplit(":", 1)[1])) as relay:
        aws = AwsSettings(
            endpoint_url=f"http://127.0.0.1:{relay.port}",
            sandbox_credentials=(FAKE_KEY_ID, FAKE_SECRET),
        )
        for terraform in (None, TerraformSettings()):
            settings: dict[str, object] = {"aws": aws}
            if terraform is not None:
                settings["terraform"] = terraform
            engine = Engine(plugins, store=MemoryStateStore(), settings=settings)
            result = engine.run(document, sandbox_secrets={"aws_external_id": "ext-1"})
            assert result.status is JobStatus.FAILED
            error = result.outcome(PREFLIGHT).error
            assert error is not None
            assert error.kind == "TerraformSettingsError"
            assert "no provider mirror and no plugin" in error.message
            assert relay.connections == 0
        mirror = TerraformSettings(sources=ProviderSources(mirror_dir=make_mirror(tmp_path / "m")))
        engine = Engine(
            plugins, store=MemoryStateStore(), settings={"aws": aws, "terraform": mirror}
        )
        accepted = engine.accept(document, sandbox_secrets={"aws_external_id": "ext-1"})
        preflight = engine.plan(accepted).step(PREFLIGHT)
        ref = JobRef(job_id="job-1", organization_id="org-a", target_id="c")
        outcome = Executor().run(Plan([preflight]), ref).outcome(PREFLIGHT)
        assert outcome.error is None, outcome.error
        assert outcome.outputs["account"] == ACCOUNT
        assert relay.connections > 0
