"""The docker backend through docker-py against the real Podman API service."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
import time
from pathlib import Path

import docker
import pytest
from docker_support import image_blobs, layer_files
from qengine_docker.backend import DockerBackend

from qengine import BuildError, CancelledError, InvalidInputError
from qengine.plugin import BuildRequest, CancelToken, RegistryCredentials, SecretValue
from qengine.testing.registry import LocalRegistry

SECRET = "docker-build-secret-31415926"
NO_AUTH = RegistryCredentials(server="", username="", password="")


def _request(tmp_path: Path, image: str, dockerfile: str, **extra: object) -> BuildRequest:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    (context / "index.html").write_text("<h1>hi</h1>\n")
    values: dict[str, object] = {
        "context": context,
        "dockerfile": context / "Dockerfile",
        "image": image,
        "tls_verify": False,
    }
    values.update(extra)
    return BuildRequest(**values)  # type: ignore[arg-type]


def _local_images(host: str) -> list[str]:
    client = docker.APIClient(base_url=host)
    try:
        return [tag for image in client.images() for tag in image.get("RepoTags") or []]
    finally:
        client.close()


def test_builds_with_a_secret_and_pushes(
    engine_host: str, engine_dir: Path, registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    image = f"{registry.host}/apps/docker-web:v1"
    request = _request(
        tmp_path,
        image,
        f"FROM {base_image}\nARG MODE\n"
        "RUN --mount=type=secret,id=API_TOKEN sha256sum /run/secrets/API_TOKEN > /token.sha"
        ' && echo "$MODE" > /mode\nCOPY . /ctx/\n',
        build_args={"MODE": "prod"},
        secret_args={"API_TOKEN": SecretValue(SECRET)},
    )
    lines: list[str] = []
    built = DockerBackend(host=engine_host).build_and_push(
        request, NO_AUTH, CancelToken(), lines.append
    )
    blobs = image_blobs(registry.url, "apps/docker-web", "v1")
    assert blobs is not None
    assert hashlib.sha256(blobs["manifest"]).hexdigest() == built.digest.split(":")[1]
    files = layer_files(blobs)
    assert files["token.sha"].split()[0].decode() == hashlib.sha256(SECRET.encode()).hexdigest()
    assert files["mode"] == b"prod\n"
    assert files["ctx/index.html"] == b"<h1>hi</h1>\n"
    assert not any("qengine-secret" in name for name in files)  # moved out of the context
    for name, body in blobs.items():
        assert SECRET.encode() not in body, name
    assert not any(SECRET in line for line in lines)
    assert image not in _local_images(engine_host)
    for path in engine_dir.rglob("*"):  # the engine's storage and temporary files
        if path.is_file() and not path.is_symlink():
            assert SECRET.encode() not in path.read_bytes(), path


def test_failed_build_leaves_nothing(
    engine_host: str, registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    image = f"{registry.host}/apps/docker-broken:v1"
    request = _request(tmp_path, image, f"FROM {base_image}\nRUN echo no && false\n")
    with pytest.raises(BuildError) as info:
        DockerBackend(host=engine_host).build_and_push(
            request, NO_AUTH, CancelToken(), lambda _l: None
        )
    assert info.value.hint
    assert image_blobs(registry.url, "apps/docker-broken", "v1") is None
    assert image not in _local_images(engine_host)


def test_uppercase_image_is_refused(engine_host: str, tmp_path: Path) -> None:
    request = _request(tmp_path, "127.0.0.1:5000/Apps/X:v1", "FROM scratch\n")
    with pytest.raises(InvalidInputError):
        DockerBackend(host=engine_host).build_and_push(
            request, NO_AUTH, CancelToken(), lambda _l: None
        )


def test_cancellation_stops_the_build(
    engine_host: str, registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    image = f"{registry.host}/apps/docker-slow:v1"
    request = _request(tmp_path, image, f"FROM {base_image}\nRUN echo started && sleep {_SLOW}\n")
    cancel = CancelToken()
    lines: list[str] = []

    def cancel_when_started() -> None:
        while not any("started" in line for line in lines):
            time.sleep(0.05)
        cancel.cancel("test")

    threading.Thread(target=cancel_when_started, daemon=True).start()
    with pytest.raises(CancelledError):
        DockerBackend(host=engine_host).build_and_push(request, NO_AUTH, cancel, lines.append)
    # The backend returned while the RUN was still sleeping: the build was given up at once,
    # not waited for (no wall-clock bound needed; the sleep may start just after "started").
    running = _slow_run()
    assert running != []
    assert image_blobs(registry.url, "apps/docker-slow", "v1") is None
    _end_slow_run(running)


def test_timeout_stops_the_build(
    engine_host: str, registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    image = f"{registry.host}/apps/docker-late:v1"
    dockerfile = f"FROM {base_image}\nRUN sleep {_SLOW}\n"
    request = _request(tmp_path, image, dockerfile, timeout_seconds=5.0)
    began = time.monotonic()
    with pytest.raises(BuildError) as info:
        DockerBackend(host=engine_host).build_and_push(
            request, NO_AUTH, CancelToken(), lambda _l: None
        )
    assert "timed out" in info.value.message
    assert time.monotonic() - began < 30
    assert image_blobs(registry.url, "apps/docker-late", "v1") is None
    _end_slow_run(_slow_run())  # the engine may reach the RUN after the client went away


def _slow_run(wait: float = 30.0) -> list[int]:
    """Pids of the slow RUN's ``sleep``, once it runs (empty if it does not within ``wait``)."""
    deadline = time.monotonic() + wait
    while not (running := _sleeping()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running


def _end_slow_run(running: list[int]) -> None:
    """Podman's Docker API keeps running a build whose client went away (Docker's stops it);
    see docs/builds.md. End the RUN so the build does not outlive the test."""
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


#: The RUN's sleep, a duration no other test uses, so its process can be found.
_SLOW = 93


def _sleeping() -> list[int]:
    """Pids of processes running the slow RUN's ``sleep``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[:2] == [b"sleep", str(_SLOW).encode()]:
                found.append(int(entry.name))
    return found
