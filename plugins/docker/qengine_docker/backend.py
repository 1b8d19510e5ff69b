"""The docker build backend: the Docker Engine API's ``/build`` and ``/images/{name}/push``
through docker-py (imported only when a build runs).

- Secret build arguments go as build secrets: each value is a file with a random name at the
  top of the context archive, named in the ``secrets`` parameter (``id=NAME,src=FILE``). The
  Podman API service moves such files out of the context before the build, so ``COPY .``
  cannot pick them up, and mounts them only for ``RUN --mount=type=secret``. The classic
  Docker builder has no such parameter: a build with secret arguments is refused there.
- Registry credentials travel in the ``X-Registry-Config`` (build pulls) and
  ``X-Registry-Auth`` (push) headers, never in a file on this machine.
- The local image is removed after the push (and after a failure), so nothing stays tagged in
  the engine. Build containers are removed (``forcerm``).
- Cancellation and the timeout close the API connection; the engine then stops the build.
  Trust for a registry's CA is the engine's own configuration (``certs.d``), not qengine's.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import secrets
import tarfile
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from qengine._errors import BuildError, InvalidInputError
from qengine.interfaces.build import BuildBackend, BuildRequest, BuiltImage
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.registry import RegistryCredentials
from qengine.secrets.redaction import Redactor
from qengine.secrets.value import SecretValue
from qengine.source.deadline import deadline
from qengine.source.references import parse_image
from qengine.source.request import SourceBuildRequest

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///run/docker.sock"
_TAIL = 15
_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


class DockerBackend(BuildBackend):
    """Builds through the engine at ``host``; ``on_line`` gets redacted output."""

    kind = "docker"

    def __init__(self, *, on_line: Callable[[str], None], host: str | None = None) -> None:
        self._on_line = on_line
        self._host = host or DEFAULT_HOST

    def build_and_push(
        self, request: BuildRequest, credentials: RegistryCredentials, cancel: CancelToken
    ) -> BuiltImage:
        """Build and push ``request``; see the module docstring. Raises InvalidInputError,
        BuildError (build, push or timeout; nothing is left tagged) and CancelledError."""
        name = parse_image(request.image)
        extra = request if isinstance(request, SourceBuildRequest) else None
        hidden = dict(extra.secret_args) if extra else {}
        redactor = Redactor([*hidden.values(), credentials.password])
        client = _client(self._host, request.timeout_seconds)
        stream = _Stream(redactor=redactor, on_line=self._on_line)
        try:
            if hidden and not _is_podman(client):
                raise BuildError(
                    "this Docker Engine cannot take build secrets through its API",
                    hint="Use the Podman API service (podman system service) or the buildah "
                    "build kind for services with secret build arguments.",
                )
            with deadline(cancel, request.timeout_seconds) as limit:
                try:
                    _build(client, request, extra, hidden, credentials, stream, limit.token)
                    digest = _push(
                        client,
                        name.with_tag(name.tag or "latest"),
                        extra,
                        credentials,
                        stream,
                        limit.token,
                    )
                except BuildError:
                    if limit.expired:
                        raise BuildError(
                            f"the build of {request.image} timed out after "
                            f"{request.timeout_seconds:g} s; nothing was pushed",
                            hint="Raise build_timeout for the service, or make the build faster.",
                        ) from None
                    raise
                finally:
                    _forget(client, request.image)
                if limit.token.cancelled:
                    limit.token.raise_if_cancelled()
        finally:
            client.close()
        return BuiltImage(image=request.image, digest=digest)


def _client(host: str, timeout: float) -> docker.APIClient:
    import docker

    return docker.APIClient(base_url=host, timeout=int(timeout) + 60, version="auto")


def _is_podman(client: docker.APIClient) -> bool:
    components = client.version().get("Components") or []
    return any("podman" in str(c.get("Name", "")).lower() for c in components)


def _build(
    client: docker.APIClient,
    request: BuildRequest,
    extra: SourceBuildRequest | None,
    hidden: Mapping[str, SecretValue],
    credentials: RegistryCredentials,
    stream: _Stream,
    cancel: CancelToken,
) -> None:
    try:
        dockerfile = request.dockerfile.relative_to(request.context)
    except ValueError:
        raise InvalidInputError(
            "the Dockerfile is outside the build context",
            hint="Put the Dockerfile inside the build context (root_path).",
        ) from None
    names = {key: f".qengine-secret-{secrets.token_hex(8)}" for key in hidden}
    params: dict[str, str] = {
        "t": request.image,
        "dockerfile": dockerfile.as_posix(),
        "rm": "1",
        "forcerm": "1",
        "buildargs": json.dumps(dict(request.build_args)),
    }
    if names:
        params["secrets"] = json.dumps([f"id={k},src={v}" for k, v in sorted(names.items())])
    if request.target:
        params["target"] = request.target
    if request.platform:
        params["platform"] = request.platform
    if extra and extra.cache_from:
        params["cachefrom"] = json.dumps([extra.cache_from])
    if extra and not extra.tls_verify:
        params["tlsVerify"] = "false"  # a Podman parameter; the Docker Engine ignores it
    headers = {"Content-Type": "application/x-tar"}
    if credentials.username:
        config = {
            credentials.server: {"username": credentials.username, "password": credentials.password}
        }
        headers["X-Registry-Config"] = base64.urlsafe_b64encode(
            json.dumps(config).encode()
        ).decode()
    body = _archive(request, {names[k]: v for k, v in hidden.items()})
    url = f"{client.base_url}/v{client.api_version}/build"
    stream.run(
        lambda: client.post(url, params=params, headers=headers, data=body, stream=True),
        cancel,
        what="build",
    )


def _push(
    client: docker.APIClient,
    name: Any,
    extra: SourceBuildRequest | None,
    credentials: RegistryCredentials,
    stream: _Stream,
    cancel: CancelToken,
) -> str:
    repository = str(name.with_tag("x"))[: -len(":x")]
    params = {"tag": name.tag}
    if extra and not extra.tls_verify:
        params["tlsVerify"] = "false"
    auth = {
        "username": credentials.username,
        "password": credentials.password,
        "serveraddress": credentials.server,
    }
    headers = {"X-Registry-Auth": base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()}
    url = f"{client.base_url}/v{client.api_version}/images/{repository}/push"
    stream.run(
        lambda: client.post(url, params=params, headers=headers, stream=True), cancel, what="push"
    )
    if not stream.digest:
        raise BuildError("the engine did not report the pushed image's digest")
    return stream.digest


def _forget(client: docker.APIClient, image: str) -> None:
    import docker

    with contextlib.suppress(docker.errors.APIError):
        client.remove_image(image, force=True, noprune=False)


def _archive(request: BuildRequest, hidden: Mapping[str, SecretValue]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(request.context, arcname=".", recursive=True)
        for name, value in hidden.items():
            data = value.reveal().encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class _Stream:
    """Reads an engine's JSON-lines answer, forwarding redacted output; keeps the digest."""

    def __init__(self, *, redactor: Redactor, on_line: Callable[[str], None]) -> None:
        self._redactor, self._on_line = redactor, on_line
        self._tail: list[str] = []
        self.digest = ""

    def run(self, send: Callable[[], Any], cancel: CancelToken, *, what: str) -> None:
        self._tail.clear()
        response = send()
        closer = threading.Thread(target=_close_on_cancel, args=(cancel, response), daemon=True)
        closer.start()
        error = ""
        try:
            if response.status_code >= 400:
                error = self._clean(response.text or f"HTTP {response.status_code}")
            else:
                for message in _messages(response.iter_lines()):
                    error = error or self._take(message)
        except Exception as exc:  # the connection closed under us: cancellation or a crash
            if not cancel.cancelled:
                raise BuildError(f"the engine connection broke during the {what}") from exc
        finally:
            response.close()
        if cancel.cancelled and not cancel.reason.startswith("timed out"):
            cancel.raise_if_cancelled()
        if error or cancel.cancelled:
            raise BuildError(
                f"the engine could not {what} the image: {error or cancel.reason}",
                hint=_hint(what, "\n".join(self._tail) + error),
            )

    def _take(self, message: Mapping[str, Any]) -> str:
        for text in str(message.get("stream") or message.get("status") or "").splitlines():
            clean = self._clean(text)
            self._tail[:] = [*self._tail[-(_TAIL - 1) :], clean]
            self._on_line(clean)
        status = _DIGEST.search(str(message.get("status") or ""))
        if status:  # "TAG: digest: sha256:... size: N", as the Docker CLI prints it
            self.digest = status.group(1)
        aux = message.get("aux")
        if isinstance(aux, dict) and str(aux.get("Digest", "")).startswith("sha256:"):
            self.digest = str(aux["Digest"])
        if message.get("error"):
            return self._clean(str(message["error"]).strip())
        return ""

    def _clean(self, text: str) -> str:
        return self._redactor.redact(text)


def _messages(lines: Iterator[bytes]) -> Iterator[Mapping[str, Any]]:
    for raw in lines:
        if raw.strip():
            message = json.loads(raw)
            if isinstance(message, dict):
                yield message


def _close_on_cancel(cancel: CancelToken, response: Any) -> None:
    while not cancel.wait(0.2):
        if getattr(response, "raw", None) is None or response.raw.closed:
            return
    with contextlib.suppress(Exception):
        response.close()


def _hint(what: str, output: str) -> str:
    lowered = output.lower()
    if "unauthorized" in lowered or "authentication required" in lowered:
        return "The registry refused the credentials: check the registry section's password."
    if what == "push":
        return (
            "Check the registry URL, the engine's trust for its certificate, and that the "
            "user may push."
        )
    return "Read the build output above; the Dockerfile or its context has a problem."
