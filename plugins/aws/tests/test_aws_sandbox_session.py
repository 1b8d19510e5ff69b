"""Several jobs in one sandbox session: the cluster an infrastructure job creates is the one
the next jobs of the session see (a pause of it, an environment deployed on it)."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aws_support import run_qengine

from qengine import Engine, SandboxSession, load_plugins
from qengine.runner import JobStatus, MemoryStateStore

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
INFRA = EXAMPLES / "aws-eks" / "job.json"
QUICKSTART = EXAMPLES / "quickstart" / "job.json"

pytestmark = pytest.mark.slow


def _document(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _secrets(path: Path) -> dict[str, str]:
    loaded: dict[str, str] = json.loads(path.with_name("secrets.json").read_text())
    return loaded


def _names(endpoint: str, ca_pem: str, token: str, path: str) -> list[str]:
    request = urllib.request.Request(endpoint + path, headers={"Authorization": f"Bearer {token}"})
    tls = ssl.create_default_context(cadata=ca_pem)
    with urllib.request.urlopen(request, context=tls, timeout=10) as reply:
        return sorted(item["metadata"]["name"] for item in json.loads(reply.read())["items"])


def test_an_environment_job_deploys_onto_the_cluster_the_infrastructure_job_created() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws,kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore())
    with SandboxSession() as session:
        created = engine.run(_document(INFRA), sandbox_secrets=_secrets(INFRA), sandbox=session)
        assert created.status is JobStatus.SUCCEEDED, created.error
        cluster = session.cluster()
        assert cluster is not None
        outputs = created.outputs["aws.apply"]
        assert outputs["endpoint"] == cluster.endpoint
        assert base64.b64decode(outputs["certificate_authority"]).decode() == cluster.ca_pem

        deployed = engine.run(
            _document(QUICKSTART), sandbox_secrets=_secrets(QUICKSTART), sandbox=session
        )
        assert deployed.status is JobStatus.SUCCEEDED, deployed.error
        # The environment's deployments (the add-on stack's are in qengine-system).
        path = "/apis/apps/v1/deployments?labelSelector=qengine.dev/environment-id%3Denv-quickstart"
        found = _names(cluster.endpoint, cluster.ca_pem, cluster.token, path)
        assert found == ["web", "worker"]

        # A second infrastructure job of the session finds the first one's state: no change.
        again = dict(_document(INFRA), id="eks-prod-create-0002")
        lines: list[str] = []
        converged = engine.run(
            again,
            sandbox_secrets=_secrets(INFRA),
            sandbox=session,
            on_event=lambda event: lines.append(event.message),
        )
        assert converged.status is JobStatus.SUCCEEDED, converged.error
        assert any("0 to add, 0 to change, 0 to destroy" in line for line in lines), lines
        assert not any("Apply complete" in line for line in lines)
        assert session.cluster() == cluster
    # The session stopped its stand-ins when it ended.
    with pytest.raises(urllib.error.URLError):
        _names(cluster.endpoint, cluster.ca_pem, cluster.token, "/api/v1/namespaces")


def test_each_plain_sandbox_run_has_its_own_stand_ins() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws,kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore())
    first = engine.run(_document(INFRA), sandbox_secrets=_secrets(INFRA), sandbox=True)
    second = engine.run(
        dict(_document(INFRA), id="eks-prod-create-0002"),
        sandbox_secrets=_secrets(INFRA),
        sandbox=True,
    )
    assert first.status is second.status is JobStatus.SUCCEEDED
    assert first.outputs["aws.apply"]["endpoint"] != second.outputs["aws.apply"]["endpoint"]


def test_the_command_line_runs_the_cluster_then_the_environment(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    result = run_qengine(
        tmp_path,
        "run",
        str(INFRA),
        str(QUICKSTART),
        "--sandbox",
        "--state-dir",
        state,
        "--output",
        "json",
        "--events",
        str(tmp_path / "events.jsonl"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout)
    assert [o["job_id"] for o in outcomes] == ["eks-prod-create-0001", "quickstart-0001"]
    # Every job's events reach the one events file (the runner closes a job's sinks).
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    finished = [e["job_id"] for e in map(json.loads, lines) if e["type"] == "job.finished"]
    assert finished == ["eks-prod-create-0001", "quickstart-0001"]
    assert "dropped" not in result.stderr
    assert [o["status"] for o in outcomes] == ["succeeded", "succeeded"]
    assert result.stderr.count("Steps:") == 2  # a recap per job
    assert f"== {INFRA}" in result.stderr
    assert f"== {QUICKSTART}" in result.stderr


def test_a_bad_later_spec_stops_the_run_before_the_first_job(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(_document(QUICKSTART), action="explode")))
    result = run_qengine(
        tmp_path, "run", str(INFRA), str(bad), "--sandbox", "--state-dir", str(tmp_path / "s")
    )
    assert result.returncode == 2
    assert f"{bad}:" in result.stderr
    assert "$.action" in result.stderr
    assert "job.started" not in result.stderr
    assert "Traceback" not in result.stderr


def test_the_pause_and_resume_examples_run_after_the_create_in_one_session(
    tmp_path: Path,
) -> None:
    specs = [str(EXAMPLES / "aws-eks" / f"{name}.json") for name in ("job", "pause", "resume")]
    result = run_qengine(
        tmp_path, "run", *specs, "--sandbox", "--state-dir", str(tmp_path / "s"), "--output", "json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout)
    assert [o["status"] for o in outcomes] == ["succeeded"] * 3
    paused = outcomes[1]["outputs"]["aws.scale-node-groups"]
    assert paused["general.desired"] == "0"
    assert "saved the size of the node group general: min 2, max 6, desired 3" in result.stderr
    assert "restoring the node group general: min 2, max 6, desired 3" in result.stderr


def test_without_moto_the_aws_sandbox_says_how_to_install_it(tmp_path: Path) -> None:
    # moto is installed here; the child process hides it, as on a machine without the extra.
    hide = "import sys; sys.modules['moto'] = sys.modules['moto.server'] = None\n"
    run = "from qengine.cli import main; sys.exit(main())"
    argv = ["qengine", "run", str(INFRA), "--sandbox", "--state-dir", str(tmp_path / "s")]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    result = subprocess.run(
        [sys.executable, "-c", f"{hide}sys.argv = {argv!r}\n{run}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "the AWS sandbox needs moto" in result.stderr
    assert "qengine-aws[sandbox]" in result.stderr
    assert "internal error" not in result.stderr
    assert "job.started" not in result.stderr


def _buckets(endpoint: str, credentials: tuple[str, str]) -> list[str]:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-west-3",
        aws_access_key_id=credentials[0],
        aws_secret_access_key=credentials[1],
    )
    return sorted(b["Name"] for b in s3.list_buckets()["Buckets"])


def test_a_sandbox_starts_from_an_empty_aws_whatever_an_earlier_one_left() -> None:
    """moto's accounts are process-wide: a later sandbox of the same process (an embedding
    host's next run, a test suite's next test) must not find the earlier one's state bucket,
    key and lock table and plan nothing to create."""
    from qengine_aws.sandbox import sandbox_aws

    with sandbox_aws() as first:
        assert first.sandbox_credentials is not None
        endpoint, credentials = first.endpoint_url, first.sandbox_credentials
        assert endpoint is not None
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="eu-west-3",
            aws_access_key_id=credentials[0],
            aws_secret_access_key=credentials[1],
        ).create_bucket(
            Bucket="left-by-an-earlier-run",
            CreateBucketConfiguration={"LocationConstraint": "eu-west-3"},
        )
        assert _buckets(endpoint, credentials) == ["left-by-an-earlier-run"]
        with sandbox_aws() as second:  # live at once: one moto, shared (documented)
            assert second.endpoint_url is not None
            assert _buckets(second.endpoint_url, credentials) == ["left-by-an-earlier-run"]
        assert _buckets(endpoint, credentials) == ["left-by-an-earlier-run"]
    with sandbox_aws() as later:
        assert later.endpoint_url is not None
        assert _buckets(later.endpoint_url, credentials) == []
