"""A whole environment job with an ``acr`` registry: an application built from a local git
repository by the real buildah, pushed to the ACR stand-in (``qengine_azure.sandbox_acr``: ACR's
OAuth2 endpoints in front of a real Distribution registry) with the refresh token its Entra token
was exchanged for, and deployed on the Kubernetes simulator with a pull Secret holding that
refresh token (the registry's short-lived pull credential), which the real skopeo reads the
image with.

Then the refresh token, in every form the project's redactor knows, is hunted for in the
events, the result, every object the simulator stores but that pull Secret (the history
Secrets' content decoded) and every file left under the test's directory."""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure_support import DEMO_SECRET, run_qengine
from qengine_azure.local_arm import LocalArm
from qengine_azure.local_tls import make_tls
from qengine_azure.sandbox_acr import TENANT, LocalAcr, run_acr
from qengine_azure.settings import AzureSettings
from qengine_kubernetes.settings import KubeSettings

from qengine import Engine, Event, load_plugins
from qengine.runner import MemoryStateStore
from qengine.secrets.hygiene import child_env
from qengine.secrets.redaction import Redactor
from qengine.source import BUILD_SETTINGS, BuildSettings
from qengine.testing.git_server import GitServer, make_repository, serve_git
from qengine.testing.kube import KubeSimulator

pytestmark = pytest.mark.slow
GIT_TOKEN = "git-token-acr-job-4c1d9e"
CLI_PLUGINS = "azure,kubernetes,buildah"


@pytest.fixture
def git(tmp_path: Path) -> Iterator[tuple[GitServer, str]]:
    root = tmp_path / "repos"
    root.mkdir()
    files = {"Dockerfile": b"FROM scratch\nCOPY index.html /index.html\n", "index.html": b"hi\n"}
    sha = make_repository(root, "web.git", files)
    with serve_git(root, token=GIT_TOKEN) as server:
        yield server, sha


@pytest.fixture
def acr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalArm, LocalAcr]]:
    tls = make_tls(tmp_path_factory.mktemp("tls"), ("localhost",))
    with LocalArm(tls) as arm, run_acr(tmp_path_factory.mktemp("acr"), arm) as running:
        yield arm, running


def _document(server: GitServer, sha: str) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": f"acr-job-{now.timestamp()}",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "created_at": now.strftime(stamp),
        "not_after": (now + datetime.timedelta(hours=1)).strftime(stamp),
        "target": {"kind": "sandbox"},
        "build": {"kind": "buildah"},
        "registry": {
            "kind": "acr",
            "name": "contosoapps",
            "tenant_id": TENANT,
            "client_id": "12345678-90ab-cdef-1234-567890abcdef",
            "client_secret": {"secret": "acr_secret"},
        },
        "environment": {
            "id": "acr-job",
            "name": "shop",
            "services": [
                {
                    "kind": "application",
                    "name": "web",
                    "git": {
                        "url": server.url_of("web.git"),
                        "commit": sha,
                        "token": {"secret": "git_token"},
                    },
                    "ports": [{"port": 8080}],
                }
            ],
        },
    }


def test_an_application_is_built_pushed_to_acr_and_deployed_with_a_pull_secret(
    git: tuple[GitServer, str], acr: tuple[LocalArm, LocalAcr], tmp_path: Path
) -> None:
    arm, running = acr
    server, sha = git
    work = tmp_path / "work"
    work.mkdir()
    refresh = running.oauth.refresh_token
    events: list[Event] = []
    with KubeSimulator(readiness_delay=0.05) as sim:
        ca = sim.ca_pem
        kube = KubeSettings(
            endpoint=sim.url,
            ca_pem=ca.decode() if isinstance(ca, bytes) else str(ca),
            token=sim.token,
        )
        azure = AzureSettings(
            arm_endpoint=arm.url,
            authority=arm.url,
            ca_file=arm.tls.ca,
            acr_endpoint=lambda login_server: running.registry.url,
        )
        plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure,kubernetes,buildah"})
        engine = Engine(
            plugins,
            store=MemoryStateStore(),
            settings={
                "azure": azure,
                "kubernetes": kube,
                BUILD_SETTINGS: BuildSettings(temp_base=work),
            },
        )
        result = engine.run(
            _document(server, sha),
            on_event=events.append,
            sandbox_secrets={"git_token": GIT_TOKEN, "acr_secret": DEMO_SECRET},
        )
        text = json.dumps([event.to_json_object() for event in events])
        assert result.status.value == "succeeded", text[-3000:]
        image = result.outputs["build/web"]["image"]
        assert image.startswith(f"{running.registry.host}/qengine/web:")
        [deployment] = [
            d for d in sim.objects("deployments.apps") if d["metadata"]["name"] == "web"
        ]
        assert [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]] == [image]
        # The cluster pulls with the refresh token: a pull Secret named by the pod template,
        # its expiry recorded beside it, and skopeo reads the image with its payload.
        template = deployment["spec"]["template"]
        assert template["spec"]["imagePullSecrets"] == [{"name": "web-pull"}]
        [pull] = [s for s in sim.objects("secrets") if s["metadata"]["name"] == "web-pull"]
        assert "qengine.dev/pull-token-expires" in pull["metadata"]["annotations"]
        payload = base64.b64decode(pull["data"][".dockerconfigjson"])
        [entry] = json.loads(payload)["auths"].values()
        assert base64.b64decode(entry["auth"]).decode().endswith(f":{refresh}")
        authfile = tmp_path / "pull.json"
        authfile.write_bytes(payload)
        authfile.chmod(0o600)
        argv = ["skopeo", "inspect", "--tls-verify=false", "--authfile", str(authfile)]
        inspected = subprocess.run(
            [*argv, f"docker://{image}"],
            env=child_env(("PATH",), {"HOME": str(tmp_path)}),
            capture_output=True,
            text=True,
            check=False,
        )
        assert inspected.returncode == 0, inspected.stderr
        authfile.unlink()
        stored = [
            json.dumps(_decoded(obj))
            for resource in ("secrets", "deployments.apps", "configmaps", "events", "pods")
            for obj in sim.objects(resource)
            if obj["metadata"]["name"] != "web-pull"
        ]
    assert "basic" in running.oauth.grants()  # buildah pushed as the null user
    redactor = Redactor([refresh])
    written = {
        "events": text,
        "result": json.dumps(result.to_json(), default=str),
        "cluster objects": "\n".join(stored),
    }
    for where, found in written.items():
        assert redactor.redact(found) == found, f"the refresh token leaked into the {where}"
    assert list(work.iterdir()) == []  # checkouts, storage and the auth file are gone
    for directory, _dirs, names in os.walk(tmp_path):
        for name in names:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                assert redactor.redact(data) == data, path


def _decoded(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with a Secret's values decoded (a history Secret's are gzip, left as bytes)."""
    if obj.get("kind", "Secret") != "Secret" or "data" not in obj:
        return obj
    data = {k: base64.b64decode(v).decode(errors="replace") for k, v in obj["data"].items()}
    return {**obj, "data": data}


def _cli_job(tmp: Path, server: GitServer, sha: str) -> Path:
    document = _document(server, sha)
    document["id"] = "acr-cli-0001"
    path = tmp / "job.json"
    path.write_text(json.dumps(document))
    secrets = {"git_token": GIT_TOKEN, "acr_secret": DEMO_SECRET}
    (tmp / "secrets.json").write_text(json.dumps(secrets))
    return path


def test_the_sandbox_runs_a_job_with_an_acr_registry_through_the_cli(
    git: tuple[GitServer, str], tmp_path: Path
) -> None:
    server, sha = git
    job = _cli_job(tmp_path, server, sha)
    result = run_qengine(tmp_path, "run", str(job), "--sandbox", plugins=CLI_PLUGINS)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Job acr-cli-0001 succeeded" in output
    # The image was pushed to the stand-in's registry (127.0.0.1), under the job's prefix.
    assert re.search(r"127\.0\.0\.1:\d+/qengine/web[:@]", output), output[-3000:]
    assert DEMO_SECRET not in output
    assert GIT_TOKEN not in output


def test_the_sandbox_refuses_an_acr_job_without_docker_registry(
    git: tuple[GitServer, str], tmp_path: Path
) -> None:
    server, sha = git
    job = _cli_job(tmp_path, server, sha)
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("git", "buildah", "terraform"):  # everything but docker-registry
        found = shutil.which(tool)
        if found is not None:
            (bare / tool).symlink_to(found)
    result = run_qengine(
        tmp_path, "run", str(job), "--sandbox", plugins=CLI_PLUGINS, path=str(bare)
    )
    assert result.returncode != 0
    assert "docker-registry" in result.stderr
    assert "apt-get install -y docker-registry" in result.stderr
