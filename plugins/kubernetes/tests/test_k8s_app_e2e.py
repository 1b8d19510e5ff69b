"""From a git commit to a running deployment, with real components.

An environment job with an application built from a local git repository (served by ``git
http-backend`` with a token) is built (buildah, or the Docker API of a Podman service), pushed
to a registry with TLS and htpasswd, and deployed on the Kubernetes simulator with the built
image and a pull Secret. The same job again builds nothing and writes nothing to the cluster.

Then the git token, the registry password and a secret build argument are searched for in
the events, the command line's output, the state directory, every object the simulator
stores, every blob of the pushed image and every file left under the test's directories.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qengine_buildah.plugin
import qengine_docker.plugin
import qengine_kubernetes.plugin
import qengine_oci.plugin
from k8s_support import ROOT, mutating, sim_settings
from qengine_docker.spec import DockerSettings
from qengine_oci.client import MANIFEST_TYPES, DistributionClient
from qengine_oci.mirror import mirror_image
from qengine_oci.registry import OciContainerRegistry
from qengine_oci.spec import OciRegistry

from qengine import Engine, Event, PluginSet, SpecError, load_plugins
from qengine.interfaces.cancel import CancelToken
from qengine.runner import MemoryStateStore
from qengine.secrets.value import SecretValue
from qengine.source import BUILD_SETTINGS, BuildSettings
from qengine.spec import SecretRef, Url
from qengine.testing.git_server import GitServer, make_repository, serve_git
from qengine.testing.images import push_busybox_base
from qengine.testing.kube import KubeSimulator
from qengine.testing.podman import run_podman_service
from qengine.testing.registry import LocalRegistry, run_registry

USER = "puller"
PASSWORD = "registry-Pa55-e2e-8f3a1c"
GIT_TOKEN = "git-token-e2e-51d2b0c9"
BUILD_SECRET = "build-secret-e2e-a7b6c5"
APP_SECRET = "app-secret-e2e-0d9e8f"
LEAKS = (GIT_TOKEN, PASSWORD, BUILD_SECRET)
SECRETS = {
    "git_token": GIT_TOKEN,
    "registry_password": PASSWORD,
    "npm_token": BUILD_SECRET,
    "api_key": APP_SECRET,
}
PLUGIN_PATHS = [ROOT, *(ROOT / "plugins" / p for p in ("kubernetes", "oci", "buildah", "docker"))]


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with run_registry(tmp_path_factory.mktemp("plain")) as registry:
        yield registry


@pytest.fixture(scope="module")
def secure_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    directory = tmp_path_factory.mktemp("secure")
    with run_registry(directory, tls=True, username=USER, password=PASSWORD) as registry:
        yield registry


def _secure_client(registry: LocalRegistry) -> OciContainerRegistry:
    spec = OciRegistry(
        kind="oci",
        url=Url(registry.url),
        username=USER,
        password=SecretRef(secret="p"),
        ca_certificate=registry.ca_pem,
    )
    return OciContainerRegistry(spec, password=SecretValue(PASSWORD))


@pytest.fixture(scope="module")
def base(secure_registry: LocalRegistry, plain_registry: LocalRegistry) -> str:
    """A busybox base, pinned by digest, in the authenticated registry."""
    pushed = push_busybox_base(plain_registry.host)
    source = OciContainerRegistry(
        OciRegistry(kind="oci", url=Url(plain_registry.url), insecure=True)
    )
    repository, tag = pushed.split("/", 1)[1].split(":")
    digest = source.digest_of(repository, tag)
    return mirror_image(
        f"{plain_registry.host}/{repository}@{digest}",
        _secure_client(secure_registry),
        "mirror/busybox",
        cancel=CancelToken(),
        on_line=lambda _line: None,
        source_tls_verify=False,
    )


@pytest.fixture
def git(tmp_path: Path, base: str) -> Iterator[tuple[GitServer, str]]:
    root = tmp_path / "repos"
    root.mkdir()
    sha = make_repository(
        root,
        "web.git",
        {
            "app/Dockerfile": (
                f"FROM {base}\n"
                "RUN --mount=type=secret,id=NPM_TOKEN wc -c < /run/secrets/NPM_TOKEN > /npm.len\n"
                "COPY index.html /srv/index.html\n"
            ).encode(),
            "app/index.html": b"<h1>e2e</h1>\n",
        },
    )
    with serve_git(root, token=GIT_TOKEN) as server:
        yield server, sha


def _document(
    server: GitServer, sha: str, registry: LocalRegistry, build: str, target: dict[str, Any]
) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC)
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": f"app-e2e-{build}-{now.timestamp()}",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": target,
        "build": {"kind": build},
        "registry": {
            "kind": "oci",
            "url": registry.url,
            "username": USER,
            "password": {"secret": "registry_password"},
            "repository_prefix": "apps",
            "ca_certificate": registry.ca_pem,
        },
        "environment": {
            "id": "app-e2e",
            "name": "shop",
            "services": [
                {
                    "kind": "application",
                    "name": "web",
                    "git": {
                        "url": server.url_of("web.git"),
                        "commit": sha,
                        "token": {"secret": "git_token"},
                        "root_path": "app",
                    },
                    "build_args": {"NPM_TOKEN": {"secret": "npm_token"}, "MODE": "prod"},
                    "env": {"API_KEY": {"secret": "api_key"}},
                    "ports": [{"port": 8080}],
                }
            ],
        },
    }


def _plugins(build: str) -> PluginSet:
    backend = {"buildah": qengine_buildah.plugin, "docker": qengine_docker.plugin}[build]
    return load_plugins(
        autoload=False,
        plugins=[
            ("kubernetes", qengine_kubernetes.plugin),
            ("oci", qengine_oci.plugin),
            (build, backend),
        ],
    )


def _run(engine: Engine, document: dict[str, Any], secrets: dict[str, str]) -> tuple[Any, str]:
    events: list[Event] = []
    result = engine.run(document, on_event=events.append, sandbox_secrets=secrets)
    text = json.dumps([event.to_json_object() for event in events])
    assert result.status.value == "succeeded", text[-3000:]
    return result, text


def _deploy_twice(
    engine: Engine, document: dict[str, Any], sim: KubeSimulator, server: GitServer
) -> tuple[dict[str, str], str]:
    """Deploy, check the cluster, deploy the same commit again; the outputs and all events."""
    first, text = _run(engine, document, SECRETS)
    built = first.outputs["build/web"]
    assert built["built"] == "true"
    _assert_deployed(sim, built["image"], document["registry"]["url"])
    sim.clear_requests()
    fetches = len(server.paths)
    again = {**document, "id": document["id"] + "-again"}
    second, more = _run(engine, again, SECRETS)
    assert second.outputs["build/web"] == {**built, "built": "false"}
    assert len(server.paths) == fetches  # no git traffic: the image was found first
    assert sim.requests(), "the redeploy must read the live objects"
    assert mutating(sim) == []
    _assert_deployed(sim, built["image"], document["registry"]["url"])
    return built, text + more


def _namespace(sim: KubeSimulator) -> str:
    [namespace] = [
        n["metadata"]["name"]
        for n in sim.objects("namespaces")
        if n["metadata"]["name"].startswith("qe-shop-")
    ]
    return namespace


def _assert_deployed(sim: KubeSimulator, image: str, registry_url: str) -> None:
    namespace = _namespace(sim)
    deployment = sim.get_object("deployments.apps", namespace, "web")
    assert deployment is not None
    pod = deployment["spec"]["template"]["spec"]
    assert [c["image"] for c in pod["containers"]] == [image]
    assert pod["imagePullSecrets"] == [{"name": "web-pull"}]
    assert "qengine.dev/secrets-hash" in deployment["spec"]["template"]["metadata"]["annotations"]
    pull = sim.get_object("secrets", namespace, "web-pull")
    assert pull is not None
    assert pull["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(pull["data"][".dockerconfigjson"]))
    host = registry_url.split("://", 1)[1]
    assert image.startswith(f"{host}/apps/web:")
    auth = base64.b64decode(config["auths"][host]["auth"]).decode()
    assert auth == f"{USER}:{PASSWORD}"


def _encodings(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, base64.b64encode(raw), base64.b64encode(f"{USER}:{secret}".encode())]


def _assert_cluster_holds_no_secret(sim: KubeSimulator) -> None:
    """Only the pull Secret (the password) and the app's Secret (its own value) hold values,
    base64'd in ``data``; no other object, annotation or history revision does."""
    namespace = _namespace(sim)
    secrets_seen: set[str] = set()
    for rtype in sim.types.all():
        if "list" not in rtype.verbs:
            continue
        resource = f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural
        for obj in sim.objects(resource):
            meta = obj["metadata"]
            if rtype.kind == "Secret" and meta.get("namespace") == namespace:
                _assert_secret_data(obj)
                secrets_seen.add(meta["name"])
                obj = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
            body = json.dumps(obj).encode()
            for secret in (*LEAKS, APP_SECRET):
                for form in _encodings(secret):
                    assert form not in body, (rtype.kind, meta.get("name"), secret)
    assert {"web-pull", "web-env", "qengine-history-web"} <= secrets_seen


def _assert_secret_data(secret: dict[str, Any]) -> None:
    name = secret["metadata"]["name"]
    decoded = {k: base64.b64decode(v) for k, v in secret.get("data", {}).items()}
    text = b"".join(decoded.values())
    if secret["type"] == "qengine.dev/history.v1":
        # A revision is gzip'd JSON, base64 once more in the value.
        text = b"".join(gzip.decompress(base64.b64decode(v)) for v in decoded.values())
    stored = json.dumps(secret).encode()
    for secret_value in (*LEAKS, APP_SECRET):
        assert secret_value.encode() not in stored, (name, "values only base64 in data")
    for leak in LEAKS:
        assert leak.encode() not in text, name  # the password only as base64(user:password)
    for leak in (GIT_TOKEN, BUILD_SECRET):
        assert base64.b64encode(leak.encode()) not in text, name
    holds_password = base64.b64encode(f"{USER}:{PASSWORD}".encode()) in text
    assert holds_password == (name == "web-pull"), name
    assert (APP_SECRET.encode() in text) == (name == "web-env"), name


def _assert_image_clean(registry: LocalRegistry, image: str) -> None:
    client = DistributionClient(
        registry.url, username=USER, password=SecretValue(PASSWORD), ca_pem=registry.ca_pem
    )
    tag = image.rsplit(":", 1)[1]
    scope = "repository:apps/web:pull"
    manifest = client.request(
        "GET",
        f"/v2/apps/web/manifests/{tag}",
        scope=scope,
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )
    assert manifest.status == 200
    blobs = [manifest.body]
    document = json.loads(manifest.body)
    for entry in [document["config"], *document["layers"]]:
        body = client.request("GET", f"/v2/apps/web/blobs/{entry['digest']}", scope=scope).body
        blobs.append(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
    assert b"wc -c" in blobs[1]  # the config's history is among what was searched
    for body in blobs:
        for secret in LEAKS:
            assert secret.encode() not in body


def _assert_no_file_holds(root: Path) -> None:
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if not path.is_file() or path.is_symlink() or "htpasswd" in name:
                continue
            if name == "secrets.json":
                continue  # the CLI run's input, written by the test
            data = path.read_bytes()
            for secret in LEAKS:
                assert secret.encode() not in data, path


def test_k8s_app_e2e_buildah_from_commit_to_deployment(
    git: tuple[GitServer, str], secure_registry: LocalRegistry, tmp_path: Path
) -> None:
    server, sha = git
    work = tmp_path / "work"
    work.mkdir()
    with KubeSimulator(readiness_delay=0.05) as sim:
        engine = Engine(
            _plugins("buildah"),
            store=MemoryStateStore(),
            settings={
                "kubernetes": sim_settings(sim),
                BUILD_SETTINGS: BuildSettings(temp_base=work),
            },
        )
        document = _document(server, sha, secure_registry, "buildah", {"kind": "sandbox"})
        fetches = len(server.paths)
        built, events = _deploy_twice(engine, document, sim, server)
        assert len(server.paths) > fetches
        _assert_cluster_holds_no_secret(sim)
    assert built["image"].startswith(f"{secure_registry.host}/apps/web:qe-{sha[:12]}-")
    for secret in (*LEAKS, APP_SECRET):
        assert secret not in events
    _assert_image_clean(secure_registry, built["image"])
    assert list(work.iterdir()) == []
    _assert_no_file_holds(tmp_path)


def test_k8s_app_e2e_a_rotated_registry_password_rolls_the_pods(
    git: tuple[GitServer, str], secure_registry: LocalRegistry
) -> None:
    """The pull Secret's content enters the pod template's secret hash."""
    from qengine_kubernetes.render import render_service

    server, sha = git
    document = _document(server, sha, secure_registry, "buildah", {"kind": "sandbox"})
    job = _plugins("buildah").loader.load(document)
    templates = []
    for password in ("old-password", "new-password"):
        payload = json.dumps({"auths": {secure_registry.host: {"password": password}}})
        rendered = render_service(
            job.environment,  # type: ignore[attr-defined]
            "web",
            open_secret=lambda name: f"v-{name}",
            images={"web": "r.example/apps/web:1"},
            registry_pull=payload,
        )
        [deployment] = [o for o in rendered.objects if o["kind"] == "Deployment"]
        templates.append(deployment["spec"]["template"])
    hashes = [t["metadata"]["annotations"]["qengine.dev/secrets-hash"] for t in templates]
    assert hashes[0] != hashes[1]
    for template in templates:
        assert "password" not in json.dumps(template)


def test_k8s_app_e2e_an_application_without_build_is_refused(
    git: tuple[GitServer, str], secure_registry: LocalRegistry
) -> None:
    server, sha = git
    document = _document(server, sha, secure_registry, "buildah", {"kind": "sandbox"})
    del document["build"]
    engine = Engine(_plugins("buildah"), store=MemoryStateStore())
    with pytest.raises(SpecError) as info:
        engine.run(document, sandbox_secrets=SECRETS)
    issues = {issue.path: issue.message for issue in info.value.issues}
    assert "no `build` section" in issues["$.environment.services[web]"]
    assert server.paths == []


def test_k8s_app_e2e_the_plan_waits_for_the_build_and_holds_no_value(
    git: tuple[GitServer, str], secure_registry: LocalRegistry, tmp_path: Path
) -> None:
    server, sha = git
    document = _document(server, sha, secure_registry, "buildah", {"kind": "sandbox"})
    engine = Engine(_plugins("buildah"), store=MemoryStateStore())
    plan = engine.plan(engine.accept(document, sandbox_secrets=SECRETS))
    steps = {step.id: step for step in plan.steps}
    assert "build/web" in steps["kubernetes/service/web"].depends_on
    assert ("Secret", "web-pull") in {
        (c.kind, c.name) for c in steps["kubernetes/service/web"].changes
    }
    assert server.paths == []


def test_k8s_app_e2e_docker_backend_on_podman(
    git: tuple[GitServer, str], secure_registry: LocalRegistry, tmp_path: Path
) -> None:
    server, sha = git
    podman = tmp_path / "podman"
    podman.mkdir()
    with (
        run_podman_service(podman, [secure_registry.host]) as host,
        KubeSimulator(readiness_delay=0.05) as sim,
    ):
        engine = Engine(
            _plugins("docker"),
            store=MemoryStateStore(),
            settings={"kubernetes": sim_settings(sim), "docker": DockerSettings(host=host)},
        )
        document = _document(server, sha, secure_registry, "docker", {"kind": "sandbox"})
        built, events = _deploy_twice(engine, document, sim, server)
        _assert_cluster_holds_no_secret(sim)
    for secret in (*LEAKS, APP_SECRET):
        assert secret not in events
    _assert_image_clean(secure_registry, built["image"])


def plan_job(engine: Engine, document: dict[str, Any]) -> Any:
    """The loaded job of ``document``."""
    return engine.plugins.loader.load(document)


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state),
        "PYTHONPATH": os.pathsep.join(str(p) for p in PLUGIN_PATHS),
        "QENGINE_PLUGINS": "kubernetes,oci,buildah",
    }
    argv = [sys.executable, "-m", "qengine", *args, "--state-dir", str(state)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_k8s_app_e2e_command_line_run_twice(
    git: tuple[GitServer, str], secure_registry: LocalRegistry, tmp_path: Path
) -> None:
    server, sha = git
    state = tmp_path / "state"
    state.mkdir()
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps(SECRETS))
    secrets.chmod(0o600)
    with KubeSimulator(readiness_delay=0.05) as sim:
        target = {"kind": "kubeconfig", "path": str(sim.kubeconfig_path)}
        document = _document(server, sha, secure_registry, "buildah", target)
        outputs = []
        for number in (1, 2):
            document["id"] = f"app-e2e-cli-{number}"
            spec = tmp_path / f"job-{number}.json"
            spec.write_text(json.dumps(document))
            if number == 2:
                sim.clear_requests()
            args = ("run", str(spec), "--sandbox", "--secrets", str(secrets), "--output", "json")
            done = _cli(state, *args)
            assert done.returncode == 0, done.stderr[-3000:]
            result = json.loads(done.stdout)
            assert result["status"] == "succeeded"
            outputs.append(result["outputs"]["build/web"])
            for secret in (*LEAKS, APP_SECRET):
                assert secret not in done.stdout + done.stderr
        assert mutating(sim) == []
        assert outputs[1] == {**outputs[0], "built": "false"}
        _assert_deployed(sim, outputs[0]["image"], secure_registry.url)
        _assert_cluster_holds_no_secret(sim)
    _assert_no_file_holds(state)
