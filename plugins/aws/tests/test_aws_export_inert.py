"""``qengine export`` of an AWS cluster is inert: a spec value never becomes a Terraform
template sequence or a shell word.

Every free-text field that reaches the module (tags, state bucket, lock table, KMS key) is
held to AWS's own character sets at validation, so ``${...}`` and ``%{...}`` are refused with
their path and exit 2; what is accepted is rendered literally by the real ``terraform`` binary
(the exported tags, in the same JSON syntax, applied as an output with the local backend).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from qengine_aws.export import export_job

from qengine import load_plugins
from qengine.cli import main
from qengine.spec import InfrastructureJob

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"
ROOT = Path(__file__).resolve().parents[3]
HOSTILE = '${file("/etc/hostname")}%{ if true }x%{ endif }'

Change = Callable[[dict[str, Any]], None]
FIELDS: dict[str, tuple[Change, str]] = {
    "tag value": (
        lambda p: p["tags"].update({"team": HOSTILE}),
        "$.cluster.provider.tags['team']",
    ),
    "tag key": (
        lambda p: p["tags"].update({HOSTILE: "v"}),
        "$.cluster.provider.tags[",
    ),
    "bucket": (
        lambda p: p["state"].update({"bucket": HOSTILE}),
        "$.cluster.provider.state.bucket",
    ),
    "lock table": (
        lambda p: p["state"].update({"lock_table": HOSTILE}),
        "$.cluster.provider.state.lock_table",
    ),
    "kms key": (
        lambda p: p["state"].update({"kms_key_arn": "arn:aws:kms:eu-west-3:1:key/" + HOSTILE}),
        "$.cluster.provider.state.kms_key_arn",
    ),
}


def _document(change: Change | None = None) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    if change is not None:
        change(document["cluster"]["provider"])
    return document


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_aws_a_template_sequence_in_a_spec_value_is_refused(
    field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    change, path = FIELDS[field]
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(_document(change)))
    monkeypatch.setenv("QENGINE_PLUGINS", "aws")
    assert main(["export", str(spec), "--out-dir", str(tmp_path / "out")]) == 2
    assert path in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _terraform(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "TF_CLI_CONFIG_FILE": str(ROOT / ".ci" / "terraformrc"),
        "TF_IN_AUTOMATION": "1",
    }
    return subprocess.run(
        ["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_aws_accepted_tags_are_rendered_literally_by_terraform(tmp_path: Path) -> None:
    unusual = {
        "team": "platform / ops: a+b=c @here",
        "naïve-ünïcode": "été_2026.q3",
        "path/like:key": "value with  spaces",
    }
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    job = plugins.loader.load(_document(lambda p: p["tags"].update(unusual)))
    assert isinstance(job, InfrastructureJob)
    written = export_job(job, tmp_path / "out")
    module = json.loads((tmp_path / "out" / "terraform" / "aws" / "main.tf.json").read_text())
    tags = module["provider"]["aws"][0]["default_tags"][0]["tags"]
    # The exported tags, verbatim, as an output of a configuration in the same JSON syntax.
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "main.tf.json").write_text(json.dumps({"output": {"tags": {"value": tags}}}))
    assert _terraform(probe, "init", "-input=false").returncode == 0
    applied = _terraform(probe, "apply", "-auto-approve", "-input=false")
    assert applied.returncode == 0, applied.stderr
    shown = json.loads(_terraform(probe, "output", "-json", "tags").stdout)
    assert shown == tags
    assert {k: shown[k] for k in unusual} == unusual
    # The README's commands are fixed text: no spec value is a word in one.
    readme = (tmp_path / "out" / "terraform" / "aws" / "README.md").read_text()
    commands = [part for part in readme.split("`") if part.startswith("terraform ")]
    assert commands == [
        "terraform init -backend-config=backend.tfbackend.json",
        "terraform plan -out=plan.tfplan",
        "terraform apply plan.tfplan",
        "terraform destroy",
    ]
    assert "terraform/aws/README.md" in written


def test_aws_terraform_would_run_an_unescaped_template(tmp_path: Path) -> None:
    """The threat is real: in the module's JSON syntax a string is a template."""
    (tmp_path / "main.tf.json").write_text(
        json.dumps({"output": {"o": {"value": '${upper("ran")}'}}})
    )
    assert _terraform(tmp_path, "init", "-input=false").returncode == 0
    assert _terraform(tmp_path, "apply", "-auto-approve", "-input=false").returncode == 0
    assert json.loads(_terraform(tmp_path, "output", "-json", "o").stdout) == "RAN"
