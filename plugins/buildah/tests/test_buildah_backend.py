"""The buildah backend builds with the real buildah and pushes to real registries."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest
from buildah_support import PASSWORD, USER, image_blobs, layer_files
from qengine_buildah.backend import BuildahBackend

from qengine import BuildError, CancelledError, InvalidInputError
from qengine.plugin import BuildRequest, CancelToken, RegistryCredentials, SecretValue
from qengine.testing.registry import LocalRegistry

SECRET = "build-secret-9f8e7d6c5b4a"
NO_AUTH = RegistryCredentials(server="", username="", password="")


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    (context / "hello").write_text("hello\n")
    return context


def _request(context: Path, image: str, **extra: object) -> BuildRequest:
    values: dict[str, object] = {
        "context": context,
        "dockerfile": context / "Dockerfile",
        "image": image,
        "tls_verify": False,
    }
    values.update(extra)
    return BuildRequest(**values)  # type: ignore[arg-type]


def test_secret_build_args_reach_the_build_and_nothing_else(
    plain_registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    context = _context(
        tmp_path,
        f"FROM {base_image}\nARG MODE\n"
        "RUN --mount=type=secret,id=API_TOKEN sha256sum /run/secrets/API_TOKEN > /token.sha"
        ' && echo "mode=$MODE" > /mode && echo using the token\n'
        "COPY hello /hello\n",
    )
    work = tmp_path / "work"
    work.mkdir()
    lines: list[str] = []
    image = f"{plain_registry.host}/apps/secret:v1"
    request = _request(
        context,
        image,
        build_args={"MODE": "prod"},
        secret_args={"API_TOKEN": SecretValue(SECRET)},
    )
    built = BuildahBackend(temp_base=work).build_and_push(
        request, NO_AUTH, CancelToken(), lines.append
    )
    assert built.digest.startswith("sha256:")
    blobs = image_blobs(plain_registry, "apps/secret", "v1")
    files = layer_files(blobs)
    assert files["token.sha"].split()[0].decode() == hashlib.sha256(SECRET.encode()).hexdigest()
    assert files["mode"] == b"mode=prod\n"
    for name, body in blobs.items():
        assert SECRET.encode() not in body, name
    assert not any(SECRET in line for line in lines)
    assert any("using the token" in line for line in lines)
    assert list(work.iterdir()) == []  # storage, secrets and auth file are gone


def test_push_to_tls_registry_with_htpasswd(secure_registry: LocalRegistry, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM scratch\nCOPY hello /hello\n")
    credentials = RegistryCredentials(server=secure_registry.host, username=USER, password=PASSWORD)
    lines: list[str] = []
    image = f"{secure_registry.host}/apps/web:v1"
    request = _request(context, image, tls_verify=True, ca_pem=secure_registry.ca_pem)
    built = BuildahBackend().build_and_push(request, credentials, CancelToken(), lines.append)
    blobs = image_blobs(secure_registry, "apps/web", "v1")
    assert hashlib.sha256(blobs["manifest"]).hexdigest() == built.digest.split(":")[1]
    assert not any(PASSWORD in line for line in lines)
    config = next(json.loads(b) for n, b in blobs.items() if n != "manifest" and b[:1] == b"{")
    assert PASSWORD not in json.dumps(config)


def test_refused_push_is_explained_and_leaves_no_tag(
    secure_registry: LocalRegistry, tmp_path: Path
) -> None:
    context = _context(tmp_path, "FROM scratch\nCOPY hello /hello\n")
    wrong = RegistryCredentials(server=secure_registry.host, username=USER, password="wrong-pw-1")
    image = f"{secure_registry.host}/apps/denied:v1"
    lines: list[str] = []
    request = _request(context, image, tls_verify=True, ca_pem=secure_registry.ca_pem)
    with pytest.raises(BuildError) as info:
        BuildahBackend().build_and_push(request, wrong, CancelToken(), lines.append)
    assert "credentials" in (info.value.hint or "")
    assert "wrong-pw-1" not in str(info.value) + "".join(lines)
    from buildah_support import client_for

    head = client_for(secure_registry).request(
        "HEAD", "/v2/apps/denied/manifests/v1", scope="repository:apps/denied:pull"
    )
    assert head.status == 404


def test_failed_build_pushes_nothing(
    plain_registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    context = _context(tmp_path, f"FROM {base_image}\nRUN echo breaking && false\n")
    image = f"{plain_registry.host}/apps/broken:v1"
    with pytest.raises(BuildError) as info:
        BuildahBackend().build_and_push(
            _request(context, image), NO_AUTH, CancelToken(), lambda _l: None
        )
    assert info.value.hint
    with pytest.raises(AssertionError):
        image_blobs(plain_registry, "apps/broken", "v1")


def test_uppercase_image_is_refused_before_building(tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM scratch\n")
    with pytest.raises(InvalidInputError) as info:
        BuildahBackend().build_and_push(
            _request(context, "127.0.0.1:5000/Apps/Web:v1"), NO_AUTH, CancelToken(), lambda _l: None
        )
    assert "lower case" in (info.value.hint or "")


def test_cancellation_stops_the_build(
    plain_registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    context = _context(tmp_path, f"FROM {base_image}\nRUN echo started && sleep 60\n")
    cancel = CancelToken()
    lines: list[str] = []

    def cancel_when_started() -> None:
        while not any("started" in line for line in lines):
            time.sleep(0.05)
        cancel.cancel("test")

    threading.Thread(target=cancel_when_started, daemon=True).start()
    began = time.monotonic()
    with pytest.raises(CancelledError):
        BuildahBackend().build_and_push(
            _request(context, f"{plain_registry.host}/apps/slow:v1"), NO_AUTH, cancel, lines.append
        )
    assert time.monotonic() - began < 30


def test_timeout_stops_the_build(
    plain_registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    context = _context(tmp_path, f"FROM {base_image}\nRUN sleep 60\n")
    began = time.monotonic()
    with pytest.raises(BuildError) as info:
        BuildahBackend().build_and_push(
            _request(context, f"{plain_registry.host}/apps/late:v1", timeout_seconds=2.0),
            NO_AUTH,
            CancelToken(),
            lambda _l: None,
        )
    assert "timed out" in info.value.message
    assert time.monotonic() - began < 30


def test_layer_cache_in_the_registry(
    plain_registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    context = _context(tmp_path, f"FROM {base_image}\nRUN echo building-the-layer > /layer\n")
    cache = f"{plain_registry.host}/cache/app"
    first: list[str] = []
    BuildahBackend().build_and_push(
        _request(context, f"{plain_registry.host}/apps/cached:v1", cache_to=cache),
        NO_AUTH,
        CancelToken(),
        first.append,
    )
    from buildah_support import client_for

    tags = client_for(plain_registry).request(
        "GET", "/v2/cache/app/tags/list", scope="repository:cache/app:pull"
    )
    assert tags.status == 200
    assert json.loads(tags.body)["tags"]
    second: list[str] = []
    BuildahBackend().build_and_push(
        _request(context, f"{plain_registry.host}/apps/cached:v2", cache_from=cache),
        NO_AUTH,
        CancelToken(),
        second.append,
    )
    assert not any("Using cache" in line for line in first)
    assert any("Using cache" in line for line in second), second  # the RUN came from the cache


def test_platform_and_target(plain_registry: LocalRegistry, tmp_path: Path) -> None:
    context = _context(
        tmp_path,
        "FROM scratch AS first\nCOPY hello /first\nFROM scratch AS second\nCOPY hello /second\n",
    )
    image = f"{plain_registry.host}/apps/arm:v1"
    request = _request(context, image, platform="linux/arm64", target="first")
    BuildahBackend().build_and_push(request, NO_AUTH, CancelToken(), lambda _l: None)
    blobs = image_blobs(plain_registry, "apps/arm", "v1")
    config = next(json.loads(b) for n, b in blobs.items() if n != "manifest" and b[:1] == b"{")
    assert config["architecture"] == "arm64"
    assert set(layer_files(blobs)) == {"first"}
