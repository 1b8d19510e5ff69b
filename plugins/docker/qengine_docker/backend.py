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
- Cancellation and the timeout close the API connection and the call returns at once; a
  Docker Engine then stops the build, Podman's API service runs the current step to its end.
- ``cache_from`` becomes the ``cachefrom`` parameter; the API has none to export a cache, so
  ``cache_to`` is ignored. Trust for a registry's CA (``ca_pem``) is the engine's own
  configuration (``certs.d``), not qengine's.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import secrets
import socket
import tarfile
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from qengine import BuildError, InvalidInputError
from qengine.plugin import (
    BuildBackend,
    BuildRequest,
    BuiltImage,
    CancelToken,
    RegistryCredentials,
    SecretValue,
)
from qengine.secrets.redaction import Redactor
from qengine.source.deadline import build_deadline
from qengine.source.references import ImageName, parse_image

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///run/docker.sock"
_TAIL = 15
_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


class DockerBackend(BuildBackend):
    """Builds through the engine at ``host`` (``unix:///run/docker.sock`` if None)."""

    def __init__(self, *, host: str | None = None) -> None:
        self._host = host or DEFAULT_HOST

    def build_and_push(
        self,
        request: BuildRequest,
        credentials: RegistryCredentials,
        cancel: CancelToken,
        log: Callable[[str], None],
    ) -> BuiltImage:
        """Build and push ``request`` (see :meth:`BuildBackend.build_and_push` and the module
        docstring). ``cache_from`` becomes the engine's ``cachefrom``; ``cache_to`` is ignored.

        Raises InvalidInputError, BuildError (build, push or timeout; nothing is left tagged;
        secret build arguments on an engine that cannot take them) and CancelledError.
        """
        name = parse_image(request.image)
        hidden = dict(request.secret_args)
        redactor = Redactor([*hidden.values(), credentials.password])
        client = _client(self._host, request.timeout_seconds)
        stream = _Stream(redactor=redactor, on_line=log)
        try:
            if hidden and not _is_podman(client):
                raise BuildError(
                    "this Docker Engine cannot take build secrets through its API",
                    hint="Use the Podman API service (podman system service) or the buildah "
                    "build kind for services with secret build arguments.",
                )
            with build_deadline(cancel, request.timeout_seconds, request.image) as token:
                try:
                    _build(client, request, hidden, credentials, stream, token)
                    tagged = name.with_tag(name.tag or "latest")
                    digest = _push(client, tagged, request, credentials, stream, token)
                finally:
                    _forget(client, request.image)
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
    if request.cache_from:
        params["cachefrom"] = json.dumps([request.cache_from])
    if not request.tls_verify:
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
    name: ImageName,
    request: BuildRequest,
    credentials: RegistryCredentials,
    stream: _Stream,
    cancel: CancelToken,
) -> str:
    repository = str(name.with_tag("x"))[: -len(":x")]
    params = {"tag": name.tag or "latest"}
    if not request.tls_verify:
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
        cancel.raise_if_cancelled()
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
        # A closed connection ends the stream early: the cancellation (or the timeout, which
        # build_deadline turns into a BuildError) is the reason, not what the stream said.
        cancel.raise_if_cancelled()
        if error:
            raise BuildError(
                f"the engine could not {what} the image: {error}",
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
    # Closing the response does not wake a read blocked on its socket in the streaming
    # thread (the engine may send nothing for minutes during a RUN); shutting the socket
    # down does. docker-py reaches the socket the same way (_get_raw_response_socket).
    stream = getattr(getattr(getattr(response, "raw", None), "_fp", None), "fp", None)
    raw = getattr(stream, "raw", None)
    sock = getattr(raw, "_sock", raw)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
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
