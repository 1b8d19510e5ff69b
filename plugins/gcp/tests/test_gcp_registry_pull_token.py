"""An environment job with an ``artifact-registry`` registry whose cluster pulls with the
registry's short-lived access token.

An application is built from a local git repository by the real buildah, pushed to the
sandbox's Artifact Registry Docker endpoint (``qengine_gcp.sandbox_docker``: a real
Distribution registry behind a front that takes only access tokens the IAM Credentials
stand-in issued) and deployed on the Kubernetes simulator with a pull Secret holding the
token. The real skopeo opens the registry with that Secret's payload; a redeploy that changes
nothing writes nothing; a redeploy when the recorded expiry is near writes the Secret alone;
and the token is hunted in the events, the logs, the journal, the history Secrets, the other
cluster objects and the export.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from gcp_support import TERRAFORMRC, Plane
from qengine_gcp.sandbox import SANDBOX_TOKEN
from qengine_gcp.settings import GcpSettings
from qengine_kubernetes.access import connect
from qengine_kubernetes.render.names import namespace_name
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import KubeconfigTarget

from qengine import Engine, Event, EventType, load_plugins
from qengine.runner import SqliteStateStore
from qengine.runner.plan import Verdict
from qengine.secrets.hygiene import child_env
from qengine.secrets.redaction import Redactor
from qengine.source import BUILD_SETTINGS, BuildSettings
from qengine.spec import DnsLabel, Environment, Identifier
from qengine.testing.git_server import GitServer, make_repository, serve_git
from qengine.testing.kube import KubeSimulator, PodFault

pytestmark = pytest.mark.slow
PROJECT = "acme-platform-prod"
GIT_TOKEN = "git-token-ar-pull-7f3a2c"
EXPIRES = "qengine.dev/pull-token-expires"
NAMESPACE = namespace_name(Environment(id=Identifier("ar-pull"), name=DnsLabel("shop")))
# Every access token the IAM Credentials stand-in issues for an impersonation, and the start
# of every Basic pair made of one (base64 of "oauth2accesstoken:"), whatever its value.
ISSUED = re.compile(r"ya29\.impersonated-\d+-[A-Za-z0-9_-]{20,}")
BASIC_PREFIX = base64.b64encode(b"oauth2accesstoken:").decode()


@pytest.fixture
def git(tmp_path: Path) -> Iterator[tuple[GitServer, str]]:
    root = tmp_path / "repos"
    root.mkdir()
    files = {"Dockerfile": b"FROM scratch\nCOPY index.html /index.html\n", "index.html": b"hi\n"}
    sha = make_repository(root, "web.git", files)
    with serve_git(root, token=GIT_TOKEN) as server:
        yield server, sha


def _document(server: GitServer, sha: str, job_id: str) -> dict[str, Any]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": job_id,
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "created_at": "2026-01-01T00:00:00Z",
        "not_after": "2099-01-01T00:00:00Z",
        "target": {"kind": "sandbox", "readiness_delay": 0},
        "build": {"kind": "buildah"},
        "registry": {
            "kind": "artifact-registry",
            "project": PROJECT,
            "location": "europe-west1",
            "repository": "qengine",
            "service_account": f"qengine-builder@{PROJECT}.iam.gserviceaccount.com",
        },
        "environment": {
            "id": "ar-pull",
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


def _kube(sim: KubeSimulator) -> KubeSettings:
    ca = sim.ca_pem
    return KubeSettings(
        endpoint=sim.url, ca_pem=ca.decode() if isinstance(ca, bytes) else str(ca), token=sim.token
    )


def _mutating(sim: KubeSimulator) -> list[str]:
    """``METHOD path`` of each write, the job's Lease traffic left out."""
    return [
        f"{r.method} {r.path}"
        for r in sim.requests()
        if r.mutating and "/leases" not in r.path and "qengine-system" not in r.path
    ]


def _skopeo(work: Path, reference: str, authfile: Path) -> subprocess.CompletedProcess[str]:
    env = child_env(("PATH",), {"HOME": str(work)})
    argv = ["skopeo", "inspect", "--tls-verify=false", "--authfile", str(authfile)]
    return subprocess.run(
        [*argv, f"docker://{reference}"], env=env, capture_output=True, text=True, check=False
    )


def _pull_token(secret: dict[str, Any]) -> str:
    payload = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    [entry] = payload["auths"].values()
    user, _, token = base64.b64decode(entry["auth"]).decode().partition(":")
    assert user == "oauth2accesstoken"
    return token


def _files_under(root: Path) -> Iterator[tuple[Path, bytes]]:
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                yield path, path.read_bytes()


def test_an_artifact_registry_token_is_the_pull_secret_renewed_only_near_its_expiry(
    git: tuple[GitServer, str], plane: Plane, tmp_path: Path
) -> None:
    server, sha = git
    work = tmp_path / "work"
    work.mkdir()
    state = tmp_path / "state"
    gcp = GcpSettings(
        sandbox_token=SANDBOX_TOKEN,
        iam_credentials_endpoint=plane.iam.url,
        artifact_registry_endpoint=plane.api.url,
        artifact_registry_docker_host=plane.front.host,
        poll_interval=0.01,
    )
    events: list[Event] = []
    with KubeSimulator(readiness_delay=0.05) as sim:
        plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes,buildah"})
        engine = Engine(
            plugins,
            store=SqliteStateStore(state),
            settings={
                "gcp": gcp,
                "kubernetes": _kube(sim),
                BUILD_SETTINGS: BuildSettings(temp_base=work),
            },
        )
        secrets = {"git_token": GIT_TOKEN}

        def deploy(job_id: str) -> None:
            result = engine.run(
                _document(server, sha, job_id), on_event=events.append, sandbox_secrets=secrets
            )
            text = json.dumps([event.to_json_object() for event in events])
            assert result.status.value == "succeeded", text[-3000:]

        deploy("ar-pull-1")
        secret = sim.get_object("secrets", NAMESPACE, "web-pull")
        assert secret is not None
        assert secret["type"] == "kubernetes.io/dockerconfigjson"
        first = _pull_token(secret)
        assert plane.iam.valid(f"Bearer {first}")  # an impersonated, short-lived token
        expiry = datetime.datetime.fromisoformat(secret["metadata"]["annotations"][EXPIRES])
        now = datetime.datetime.now(datetime.UTC)
        assert now < expiry <= now + datetime.timedelta(hours=1, minutes=1)
        [deployment] = sim.objects("deployments.apps", NAMESPACE)
        template = deployment["spec"]["template"]
        assert template["spec"]["imagePullSecrets"] == [{"name": "web-pull"}]
        image = template["spec"]["containers"][0]["image"]
        assert image.startswith(f"{plane.front.host}/{PROJECT}/qengine/web")

        # The Secret's payload opens the registry: skopeo reads the image with it.
        authfile = tmp_path / "pull.json"
        authfile.write_bytes(base64.b64decode(secret["data"][".dockerconfigjson"]))
        authfile.chmod(0o600)
        inspected = _skopeo(tmp_path, image, authfile)
        assert inspected.returncode == 0, inspected.stderr
        authfile.unlink()

        # A redeploy that changes nothing writes nothing, the Secret included.
        sim.clear_requests()
        deploy("ar-pull-2")
        assert _mutating(sim) == []
        assert sim.get_object("secrets", NAMESPACE, "web-pull") == secret

        # Nor does a plan see a change: the recorded expiry is bookkeeping, not rendered.
        planned = _document(server, sha, "ar-pull-plan")
        accepted = engine.accept(planned, sandbox_secrets=secrets, consume=False)
        report = engine.preview(accepted, engine.plan(accepted))
        found = {(o.kind, o.name): o for r in report.steps for o in r.preview.objects}
        assert found[("Secret", "web-pull")].action is Verdict.UNCHANGED
        assert report.summary()["update"] == 0
        plan_text = json.dumps(report.to_json()) + report.render()

        # The recorded expiry is near: the redeploy writes the Secret, and only it; the pods
        # name it only, so the Deployment is not touched.
        api = connect(KubeconfigTarget(kind="kubeconfig", path="unused"), _kube(sim))
        near = (now + datetime.timedelta(minutes=5)).replace(microsecond=0).isoformat()
        patch = {"metadata": {"annotations": {EXPIRES: near}}}
        api.merge_patch("Secret", NAMESPACE, "web-pull", patch)
        sim.clear_requests()
        deploy("ar-pull-3")
        assert _mutating(sim) == [f"PATCH /api/v1/namespaces/{NAMESPACE}/secrets/web-pull"]
        renewed = sim.get_object("secrets", NAMESPACE, "web-pull")
        assert renewed is not None
        second = _pull_token(renewed)
        assert plane.iam.valid(f"Bearer {second}")
        assert renewed["metadata"]["annotations"][EXPIRES] != near
        assert sim.objects("deployments.apps", NAMESPACE) == [deployment]

        stored = sim.objects("secrets", NAMESPACE)
        history = [s for s in stored if s["metadata"]["name"] != "web-pull"]
        others = [
            json.dumps(obj)
            for resource in ("deployments.apps", "replicasets.apps", "pods", "events", "configmaps")
            for obj in sim.objects(resource)
        ]
    changed = [e for e in events if e.type is EventType.RESOURCE_CHANGED]
    assert ("ar-pull-1", "Secret", "web-pull") in {
        (e.job_id, e.data.get("kind"), e.data.get("name")) for e in changed
    }
    assert [e for e in changed if e.job_id == "ar-pull-2"] == []
    renewal = [(e.data.get("kind"), e.data.get("name")) for e in changed if e.job_id == "ar-pull-3"]
    assert renewal == [("Secret", "web-pull")]
    redactor = Redactor([first, second])
    hunted = {
        "events and logs": json.dumps([event.to_json_object() for event in events]),
        "history and other Secrets": json.dumps(history),
        "other cluster objects": "\n".join(others),
        "plan": plan_text,
    }
    for where, text in hunted.items():
        assert redactor.redact(text) == text, f"the token leaked into the {where}"
        assert BASIC_PREFIX not in text, where
    for path, data in _files_under(tmp_path):  # the journal, the build's work directory
        assert redactor.redact(data) == data, path
        assert BASIC_PREFIX.encode() not in data, path


def _qengine(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp),
        "QENGINE_PLUGINS": "gcp,kubernetes,buildah",
        "TF_CLI_CONFIG_FILE": str(TERRAFORMRC),
    }
    return subprocess.run(
        [sys.executable, "-m", "qengine", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=600,
        check=False,
    )


def test_the_sandbox_deploys_with_the_token_pull_secret_and_a_redeploy_writes_nothing(
    git: tuple[GitServer, str], tmp_path: Path
) -> None:
    server, sha = git
    jobs = []
    for job_id in ("ar-cli-1", "ar-cli-2"):  # the same spec twice: a no-op redeploy
        path = tmp_path / f"{job_id}.json"
        path.write_text(json.dumps(_document(server, sha, job_id)))
        jobs.append(str(path))
    (tmp_path / "secrets.json").write_text(json.dumps({"git_token": GIT_TOKEN}))
    events_file = tmp_path / "events.jsonl"
    state = tmp_path / "state"
    result = _qengine(
        tmp_path, "run", *jobs, "--sandbox", "--events", str(events_file), "--state-dir", str(state)
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Job ar-cli-1 succeeded" in output
    assert "Job ar-cli-2 succeeded" in output
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    changed = [e for e in events if e["type"] == "resource.changed"]
    written = {(e["job_id"], e["data"]["kind"], e["data"]["name"]) for e in changed}
    assert ("ar-cli-1", "Secret", "web-pull") in written
    assert ("ar-cli-1", "Deployment", "web") in written
    assert [e for e in changed if e["job_id"] == "ar-cli-2"] == []
    progress = [e["message"] for e in events if e["job_id"] == "ar-cli-1"]
    assert any("pull Secret web-pull: registry token valid until" in m for m in progress)
    exported = _qengine(tmp_path, "export", jobs[0], "--out-dir", str(tmp_path / "export"))
    assert exported.returncode == 0, exported.stderr
    values = (tmp_path / "export").rglob("values.yaml")
    assert any("registry:dockerconfigjson" in p.read_text() for p in values)
    for path, data in _files_under(tmp_path):  # events, journal, audit log, export
        if path.name == "secrets.json" or "repos" in path.parts:
            continue
        assert ISSUED.search(data.decode(errors="replace")) is None, path
        assert BASIC_PREFIX.encode() not in data, path
    assert ISSUED.search(output) is None
    assert BASIC_PREFIX not in output


def test_a_failed_rollout_keeps_the_token_secret_and_a_prune_deletes_it(
    git: tuple[GitServer, str], plane: Plane, tmp_path: Path
) -> None:
    server, sha = git
    work = tmp_path / "work"
    work.mkdir()
    gcp = GcpSettings(
        sandbox_token=SANDBOX_TOKEN,
        iam_credentials_endpoint=plane.iam.url,
        artifact_registry_endpoint=plane.api.url,
        artifact_registry_docker_host=plane.front.host,
        poll_interval=0.01,
    )
    with KubeSimulator(readiness_delay=0.05) as sim:
        plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes,buildah"})
        engine = Engine(
            plugins,
            store=SqliteStateStore(tmp_path / "state"),
            settings={
                "gcp": gcp,
                # Bounded: with the default timeout (600 s) this scenario was seen to take
                # ten minutes, with 30 s eight seconds, the outcome the same.
                "kubernetes": attrs.evolve(_kube(sim), rollout_timeout=30),
                BUILD_SETTINGS: BuildSettings(temp_base=work),
            },
        )
        secrets = {"git_token": GIT_TOKEN}
        good = engine.run(_document(server, sha, "ar-back-1"), sandbox_secrets=secrets)
        assert good.status.value == "succeeded"
        secret = sim.get_object("secrets", NAMESPACE, "web-pull")
        assert secret is not None
        [before] = sim.objects("deployments.apps", NAMESPACE)
        # A new revision whose pods crash: its rollout fails and the step rolls back.
        changed = _document(server, sha, "ar-back-2")
        changed["environment"]["services"][0]["env"] = {"MODE": "broken"}
        image = before["spec"]["template"]["spec"]["containers"][0]["image"]
        sim.faults.add_pod(PodFault(kind="CrashLoopBackOff", image=image))
        sim.clear_requests()
        events: list[Event] = []
        failed = engine.run(changed, on_event=events.append, sandbox_secrets=secrets)
        text = "\n".join(f"{e.type.value} {e.message}" for e in events)
        assert failed.status.value == "failed", text[-3000:]
        writes = _mutating(sim)
        assert any("/deployments/web" in w for w in writes)  # the rollout and its rollback
        # The Secret's token was far from its expiry: neither the deploy nor the rollback
        # rewrote it, and no placeholder ever reached the cluster in its place.
        assert not [w for w in writes if w.endswith("/secrets/web-pull")]
        assert sim.get_object("secrets", NAMESPACE, "web-pull") == secret
        [after] = sim.objects("deployments.apps", NAMESPACE)
        env = after["spec"]["template"]["spec"]["containers"][0].get("env") or []
        assert "MODE" not in json.dumps(env), text[-3000:]
        assert plane.iam.valid(f"Bearer {_pull_token(secret)}")
        # The application leaves the spec: the prune deletes its pull Secret with the rest.
        sim.faults.clear()
        pruned = _document(server, sha, "ar-back-3")
        pruned["environment"]["services"] = [
            {"kind": "container", "name": "api", "image": "registry.k8s.io/pause", "tag": "3.9"}
        ]
        assert engine.run(pruned, sandbox_secrets={}).status.value == "succeeded"
        names = {s["metadata"]["name"] for s in sim.objects("secrets", NAMESPACE)}
        assert "web-pull" not in names
        assert "qengine-history-web" not in names
