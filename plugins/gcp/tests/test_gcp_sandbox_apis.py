"""The sandbox starts the stand-ins of the Google APIs its jobs call with credentials (IAM
Credentials, Cloud DNS, Artifact Registry; qengine_gcp.sandbox_session) and points the
plugin's clients at them: an environment job's ``cloud-dns`` and ``artifact-registry``
sections work there through impersonated, short-lived tokens, as against Google."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gcp_support import EXAMPLE, QUICKSTART, REPO, run_qengine
from qengine_gcp.artifact_registry import ArtifactRegistryContainerRegistry
from qengine_gcp.cloud_dns import CloudDnsProvider
from qengine_gcp.plugin import qengine_sandbox
from qengine_gcp.sandbox import SANDBOX_TOKEN
from qengine_gcp.sandbox_session import GCP_APIS, GCP_DOCKER_HOST, GCP_SETTINGS, SandboxApis

from qengine import load_plugins
from qengine.plugin import DnsRecord, JobSecrets, JobServices, SandboxSession
from qengine.spec import Job

PROJECT = "acme-platform-prod"
BUILDER = f"qengine-builder@{PROJECT}.iam.gserviceaccount.com"
DNS_ACCOUNT = f"qengine-dns@{PROJECT}.iam.gserviceaccount.com"


def _quickstart() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(QUICKSTART.read_text())
    document["registry"] = {
        "kind": "artifact-registry",
        "project": PROJECT,
        "location": "europe-west1",
        "repository": "qengine",
        "service_account": BUILDER,
    }
    document["dns"] = {
        "kind": "cloud-dns",
        "project": PROJECT,
        "zone": "example.com",
        "service_account": DNS_ACCOUNT,
    }
    return document


def _load(document: dict[str, Any]) -> Job:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes"})
    job: Job = plugins.loader.load(document)
    return job


@pytest.fixture
def session() -> Iterator[SandboxSession]:
    with SandboxSession() as found:
        yield found


def _services(session: SandboxSession, job: Job) -> tuple[JobServices, SandboxApis]:
    settings = qengine_sandbox(job=job, session=session)
    assert settings is not None
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes"})
    services = JobServices(
        job=job, secrets=JobSecrets(None), registry=plugins.registry, settings=settings
    )
    apis = session.get(GCP_APIS)
    assert apis is not None
    return services, apis


def test_an_environment_job_gets_the_api_stand_ins_alone(session: SandboxSession) -> None:
    services, apis = _services(session, _load(_quickstart()))
    settings = services.settings["gcp"]
    assert settings.dns_endpoint == apis.dns.url  # type: ignore[attr-defined]
    assert settings.artifact_registry_endpoint == apis.artifact_registry.url  # type: ignore[attr-defined]
    assert settings.iam_credentials_endpoint == apis.iam.url  # type: ignore[attr-defined]
    # Its artifact-registry registry gets the local Docker endpoint (sandbox_docker).
    docker = session.get(GCP_DOCKER_HOST)
    assert docker is not None
    assert settings.artifact_registry_docker_host == docker  # type: ignore[attr-defined]
    # No cluster, no Cloud Storage: an environment job needs neither.
    assert session.get(GCP_SETTINGS) is None
    assert session.cluster() is None
    # Without a cloud-dns or artifact-registry section, nothing is started.
    assert qengine_sandbox(job=_load(json.loads(QUICKSTART.read_text())), session=session) is None


def test_cloud_dns_through_an_impersonated_token(session: SandboxSession) -> None:
    services, apis = _services(session, _load(_quickstart()))
    provider = services.dns_provider()
    assert isinstance(provider, CloudDnsProvider)
    record = DnsRecord(name="shop.example.com", type="A", values=("192.0.2.10",))
    assert provider.ensure_record(record)
    held = apis.dns.records["example-com"][("shop.example.com.", "A")]
    assert held["rrdatas"] == ["192.0.2.10"]
    assert [call["account"] for kind, call in apis.iam.calls if kind == "iam"] == [DNS_ACCOUNT]


def test_artifact_registry_through_an_impersonated_token(session: SandboxSession) -> None:
    services, apis = _services(session, _load(_quickstart()))
    registry = services.container_registry()
    assert isinstance(registry, ArtifactRegistryContainerRegistry)
    registry.ensure_repository("web")
    assert f"projects/{PROJECT}/locations/europe-west1/repositories/qengine" in (
        apis.artifact_registry.repositories
    )
    found = registry.credentials()
    assert found.server == session.get(GCP_DOCKER_HOST)
    password = found.password
    assert password != SANDBOX_TOKEN
    assert apis.iam.valid(f"Bearer {password}")  # issued by the IAM Credentials stand-in


def test_the_stand_ins_refuse_a_token_they_did_not_issue(session: SandboxSession) -> None:
    _, apis = _services(session, _load(_quickstart()))
    for url in (
        f"{apis.dns.url}/dns/v1/projects/{PROJECT}/managedZones",
        f"{apis.artifact_registry.url}/v1/projects/{PROJECT}/locations/europe-west1/repositories/x",
    ):
        request = urllib.request.Request(url, headers={"Authorization": "Bearer ya29.forged"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code == 401
        caught.value.close()


@pytest.mark.slow
def test_the_cluster_then_an_environment_job_with_cloud_dns_and_artifact_registry(
    tmp_path: Path,
) -> None:
    quickstart = tmp_path / "quickstart.json"
    quickstart.write_text(json.dumps(_quickstart()))
    shutil.copy(REPO / "examples/quickstart/secrets.json", tmp_path / "secrets.json")
    result = run_qengine(
        tmp_path, "run", str(EXAMPLE), str(quickstart), "--sandbox",
        "--state-dir", str(tmp_path / "state"), "--output", "json",
        "--events", str(tmp_path / "events.jsonl"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout)
    assert [o["status"] for o in outcomes] == ["succeeded", "succeeded"]
    events = (tmp_path / "events.jsonl").read_text()
    # The router's record went to the Cloud DNS stand-in (Google is out of reach here).
    assert "shop.example.com A 192.0.2.10" in events
    assert SANDBOX_TOKEN not in result.stdout + result.stderr + events
