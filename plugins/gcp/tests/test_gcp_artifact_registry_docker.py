"""Artifact Registry's data plane in the sandbox (qengine_gcp.sandbox_docker): a real
Distribution registry (Debian's docker-registry) behind the front that checks Artifact
Registry's credentials. The real buildah pushes with the credentials the plugin hands the
build backends, the real skopeo pulls with the pull secret it gives the cluster."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from gcp_support import REPO, Plane
from qengine_gcp.artifact_registry import ArtifactRegistryContainerRegistry
from qengine_gcp.sandbox import SANDBOX_TOKEN
from qengine_gcp.sandbox_session import session_settings
from qengine_gcp.settings import GcpSettings

from qengine import load_plugins
from qengine.plugin import InvalidInputError, JobSecrets, JobServices, SandboxSession
from qengine.secrets.hygiene import child_env

PROJECT = "acme-platform-prod"


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((REPO / "examples/quickstart/job.json").read_text())
    document["registry"] = {
        "kind": "artifact-registry",
        "project": PROJECT,
        "location": "europe-west1",
        "repository": "qengine",
        "service_account": f"qengine-builder@{PROJECT}.iam.gserviceaccount.com",
    }
    return document


def _registry(plane: Plane) -> ArtifactRegistryContainerRegistry:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes"})
    settings = GcpSettings(
        sandbox_token=SANDBOX_TOKEN,
        iam_credentials_endpoint=plane.iam.url,
        artifact_registry_endpoint=plane.api.url,
        artifact_registry_docker_host=plane.front.host,
        poll_interval=0.01,
    )
    services = JobServices(
        job=plugins.loader.load(_document()),
        secrets=JobSecrets(None),
        registry=plugins.registry,
        settings={"gcp": settings},
    )
    registry = services.container_registry()
    assert isinstance(registry, ArtifactRegistryContainerRegistry)
    return registry


def _authfile(path: Path, host: str, username: str, password: str) -> Path:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    path.chmod(0o600)
    return path


def _tool(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    storage = work / "storage.conf"
    if not storage.exists():
        storage.write_text(
            f'[storage]\ndriver = "vfs"\nrunroot = "{work}/run"\ngraphroot = "{work}/graph"\n'
        )
    env = child_env(("PATH",), {"HOME": str(work), "CONTAINERS_STORAGE_CONF": str(storage)})
    return subprocess.run(list(args), env=env, capture_output=True, text=True, check=False)


def _push(work: Path, reference: str, authfile: Path) -> subprocess.CompletedProcess[str]:
    (work / "hello.txt").write_text("hello from qengine\n")
    container = _tool(work, "buildah", "from", "scratch").stdout.strip()
    assert container, "buildah from scratch failed"
    assert _tool(work, "buildah", "copy", container, str(work / "hello.txt"), "/").returncode == 0
    assert _tool(work, "buildah", "commit", "-q", container, reference).returncode == 0
    return _tool(
        work, "buildah", "push", "--tls-verify=false", "--authfile", str(authfile),
        reference, f"docker://{reference}",
    )  # fmt: skip


def _inspect(work: Path, reference: str, authfile: Path | None) -> subprocess.CompletedProcess[str]:
    auth = ["--authfile", str(authfile)] if authfile else ["--no-creds"]
    return _tool(work, "skopeo", "inspect", "--tls-verify=false", *auth, f"docker://{reference}")


def test_push_with_the_build_credentials_then_pull_with_the_pull_secret(
    plane: Plane, tmp_path: Path
) -> None:
    registry = _registry(plane)
    image = registry.ensure_repository("web")
    assert image == f"{plane.front.host}/{PROJECT}/qengine/web"
    found = registry.credentials()
    assert (found.server, found.username) == (plane.front.host, "oauth2accesstoken")
    assert plane.iam.valid(f"Bearer {found.password}")  # an impersonated, short-lived token
    push = _authfile(tmp_path / "push.json", found.server, found.username, found.password)
    pushed = _push(tmp_path, f"{image}:1.0", push)
    assert pushed.returncode == 0, pushed.stderr
    # The push is recorded where the API answers: digest and existence checks see it.
    digest = registry.digest_of(registry.repository_of("web"), "1.0")
    assert digest is not None
    assert digest.startswith("sha256:")
    pull = tmp_path / "pull.json"
    pull.write_bytes(registry.pull_secret_payload())
    inspected = _inspect(tmp_path, f"{image}:1.0", pull)
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Digest"] == digest


def test_no_forged_or_missing_credentials_and_no_missing_repository(
    plane: Plane, tmp_path: Path
) -> None:
    registry = _registry(plane)
    image = registry.ensure_repository("web")
    found = registry.credentials()
    push = _authfile(tmp_path / "push.json", found.server, found.username, found.password)
    assert _push(tmp_path, f"{image}:1.0", push).returncode == 0
    anonymous = _inspect(tmp_path, f"{image}:1.0", None)  # an anonymous registry token
    assert anonymous.returncode != 0
    assert "unauthenticated request" in anonymous.stderr.lower()
    forged = _authfile(tmp_path / "forged.json", found.server, "oauth2accesstoken", "ya29.forged")
    refused = _inspect(tmp_path, f"{image}:1.0", forged)
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.lower()
    # The sandbox token is the host's own, not one IAM Credentials issued: refused too.
    host = _authfile(tmp_path / "host.json", found.server, "oauth2accesstoken", SANDBOX_TOKEN)
    assert _inspect(tmp_path, f"{image}:1.0", host).returncode != 0
    missing = f"{plane.front.host}/{PROJECT}/no-such-repository/web:1.0"
    denied = _push(tmp_path, missing, push)
    assert denied.returncode != 0
    assert "403 (forbidden)" in denied.stderr.lower()


def test_the_sandbox_refuses_an_artifact_registry_job_without_docker_registry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes"})
    job = plugins.loader.load(_document())
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker-registry there
    with SandboxSession() as session, pytest.raises(InvalidInputError) as caught:
        session_settings(session, job)
    assert "docker-registry" in str(caught.value)
    assert "apt-get install docker-registry" in (caught.value.hint or "")
