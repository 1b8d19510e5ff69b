"""Benchmark of image builds: qengine's buildah backend and build step versus buildah alone.

Figures printed (no thresholds; ratios compare against a baseline measured in the same run):

* build and push of a small image (busybox base, one RUN with a build secret, one COPY):
  ``buildah bud`` + ``buildah push`` run directly (the baseline), the qengine buildah backend
  (private storage, secret files, redacted output), and a whole environment job through the
  Engine (git fetch of the commit over smart HTTP, tag, registry lookup, build, push);
* the skip path: the same job again (image already in the registry): wall time, registry
  requests (counted in the registry's own log) and git requests.

Each round uses fresh storage, so every build pulls the base image. Needs buildah, skopeo,
docker-registry, busybox-static and git (``.ci/install-build-tools.sh``).

Run: ``PYTHONPATH=.:plugins/oci:plugins/buildah python3 benchmarks/bench_build.py [--rounds N]``
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import qengine_buildah.plugin
import qengine_oci.plugin
from qengine_buildah.backend import BuildahBackend

import qengine.testing.plugin
from qengine import Engine, load_plugins
from qengine.plugin import BuildRequest, CancelToken, RegistryCredentials
from qengine.runner import MemoryStateStore
from qengine.secrets.hygiene import child_env
from qengine.secrets.value import SecretValue
from qengine.testing.git_server import GitServer, make_repository, serve_git
from qengine.testing.images import push_busybox_base
from qengine.testing.registry import LocalRegistry, run_registry

SECRET = "bench-secret-value-0123456789"


def dockerfile(base: str, round_: int) -> str:
    # The round number makes each image new, so no round finds the previous one's layers.
    return (
        f"FROM {base}\nARG ROUND={round_}\n"
        "RUN --mount=type=secret,id=TOKEN wc -c < /run/secrets/TOKEN > /token.len\n"
        "COPY index.html /srv/index.html\n"
    )


def raw_buildah(context: Path, image: str, work: Path) -> float:
    storage = work / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{work}/run"\ngraphroot = "{work}/graph"\n'
    )
    secret = work / "token"
    secret.write_text(SECRET)
    (work / "tmp").mkdir()
    registries = work / "registries.conf"
    registries.write_text("unqualified-search-registries = []\n")
    # The same environment the backend gives buildah, so only qengine's own work differs.
    env = child_env(
        ("PATH",),
        {
            "HOME": str(work),
            "TMPDIR": str(work / "tmp"),
            "CONTAINERS_STORAGE_CONF": str(storage),
            "CONTAINERS_REGISTRIES_CONF": str(registries),
        },
    )
    began = time.perf_counter()
    subprocess.run(
        [
            "buildah",
            "bud",
            "--isolation",
            "chroot",
            "--tls-verify=false",
            "-t",
            image,
            f"--secret=id=TOKEN,src={secret}",
            str(context),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["buildah", "push", "--tls-verify=false", image, f"docker://{image}"],
        env=env,
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - began
    subprocess.run(["rm", "-rf", str(work / "graph"), str(work / "run")], check=True)
    return elapsed


def qengine_backend(context: Path, image: str) -> float:
    request = BuildRequest(
        context=context,
        dockerfile=context / "Dockerfile",
        image=image,
        secret_args={"TOKEN": SecretValue(SECRET)},
        tls_verify=False,
    )
    began = time.perf_counter()
    BuildahBackend().build_and_push(
        request,
        RegistryCredentials(server="", username="", password=""),
        CancelToken(),
        lambda _line: None,
    )
    return time.perf_counter() - began


def job_document(server: GitServer, sha: str, registry: LocalRegistry, name: str) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC)
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": f"bench-{now.timestamp()}",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": {"kind": "test", "steps": "noop"},
        "build": {"kind": "buildah"},
        "registry": {"kind": "oci", "url": registry.url, "insecure": True},
        "environment": {
            "id": "e1",
            "name": "e1",
            "services": [
                {
                    "kind": "application",
                    "name": name,
                    "git": {"url": server.url_of(f"{name}.git"), "commit": sha},
                    "build_args": {"TOKEN": {"secret": "token"}},
                }
            ],
        },
    }


def run_job(engine: Engine, document: dict[str, Any]) -> tuple[float, str]:
    began = time.perf_counter()
    result = engine.run(document, sandbox_secrets={"token": SECRET})
    elapsed = time.perf_counter() - began
    if result.status.value != "succeeded":
        raise SystemExit(f"the job failed: {result.steps}")
    return elapsed, result.outputs["build/" + document["environment"]["services"][0]["name"]][
        "built"
    ]


def requests_in(log: Path) -> int:
    return sum("response completed" in line for line in log.read_text().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        (root / "registry").mkdir()
        with run_registry(root / "registry", log_level="info") as registry:
            base = push_busybox_base(registry.host)
            engine = Engine(
                load_plugins(
                    autoload=False,
                    plugins=[
                        ("test", qengine.testing.plugin),
                        ("oci", qengine_oci.plugin),
                        ("buildah", qengine_buildah.plugin),
                    ],
                ),
                store=MemoryStateStore(),
            )
            raw, backend, job, skip = [], [], [], []
            skip_registry, skip_git = [], []
            (root / "repos").mkdir()
            with serve_git(root / "repos") as server:
                for round_ in range(rounds):
                    context = root / f"ctx{round_}"
                    context.mkdir()
                    (context / "Dockerfile").write_text(dockerfile(base, round_))
                    (context / "index.html").write_text("<h1>bench</h1>\n")
                    work = root / f"raw{round_}"
                    work.mkdir()
                    # Alternate which goes first, so neither always meets a warm page cache.
                    order = [0, 1] if round_ % 2 == 0 else [1, 0]
                    for which in order:
                        if which == 0:
                            raw.append(
                                raw_buildah(context, f"{registry.host}/raw/app:{round_}", work)
                            )
                        else:
                            backend.append(
                                qengine_backend(context, f"{registry.host}/qe/app:{round_}")
                            )
                    name = f"app{round_}"
                    sha = make_repository(
                        root / "repos",
                        f"{name}.git",
                        {
                            "Dockerfile": dockerfile(base, round_).encode(),
                            "index.html": b"<h1>bench</h1>\n",
                        },
                    )
                    elapsed, built = run_job(engine, job_document(server, sha, registry, name))
                    assert built == "true"
                    job.append(elapsed)
                    before_registry, before_git = (
                        requests_in(registry.storage.parent / "registry.log"),
                        len(server.paths),
                    )
                    elapsed, built = run_job(engine, job_document(server, sha, registry, name))
                    assert built == "false"
                    skip.append(elapsed)
                    skip_registry.append(
                        requests_in(registry.storage.parent / "registry.log") - before_registry
                    )
                    skip_git.append(len(server.paths) - before_git)
    baseline = statistics.median(raw)

    def line(label: str, values: list[float]) -> str:
        value = statistics.median(values)
        return f"{label:<36}{value:.3f} s  ratio {value / baseline:.3f}"

    print(f"rounds: {rounds} (medians)")
    print(f"{'buildah bud + push alone':<36}{baseline:.3f} s  (baseline)")
    print(line("qengine buildah backend", backend))
    print(line("whole job (git fetch + build)", job))
    print(line("same job again (image present)", skip))
    print(f"registry requests when skipping: {max(skip_registry)}; git requests: {max(skip_git)}")


if __name__ == "__main__":
    main()
