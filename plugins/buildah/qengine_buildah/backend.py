"""The buildah build backend: ``buildah bud`` then ``buildah push``, with a private storage.

Each build gets a private (0700) directory holding a vfs storage (``CONTAINERS_STORAGE_CONF``
points at a storage.conf naming its runroot and graphroot), the registry auth file, the CA
directory and the build secrets (0600 files): all of it is removed when the build ends, so no
image, layer or secret stays on the machine. Secret build arguments are handed over as
``--secret id=NAME,src=FILE`` (``RUN --mount=type=secret,id=NAME`` reads them); they never
become ``--build-arg``, so they are in no layer, no image config and no history entry.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from qengine._errors import BuildError
from qengine.interfaces.build import BuildBackend, BuildRequest, BuiltImage
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.registry import RegistryCredentials
from qengine.runner.process import run_process
from qengine.secrets.hygiene import child_env, private_tempdir, write_private_file
from qengine.secrets.redaction import Redactor
from qengine.secrets.value import SecretValue
from qengine.source.auth_file import write_auth_file, write_cert_dir
from qengine.source.deadline import deadline
from qengine.source.references import parse_image
from qengine.source.request import SourceBuildRequest

_TAIL = 15


class BuildahBackend(BuildBackend):
    """Builds with the ``buildah`` binary on ``PATH``; ``on_line`` gets redacted output."""

    kind = "buildah"

    def __init__(
        self,
        *,
        on_line: Callable[[str], None],
        layers: bool = False,
        temp_base: Path | None = None,
        binary: str = "buildah",
    ) -> None:
        self._on_line = on_line
        self._layers = layers
        self._temp_base = temp_base
        self._binary = binary

    def build_and_push(
        self, request: BuildRequest, credentials: RegistryCredentials, cancel: CancelToken
    ) -> BuiltImage:
        """Build ``request`` and push it; see the module docstring for what stays where.

        Raises InvalidInputError (bad image reference), BuildError (the build or the push
        failed, or timed out: nothing is pushed then) and CancelledError.
        """
        parse_image(request.image)
        binary = shutil.which(self._binary)
        if binary is None:
            raise BuildError(
                "buildah is not installed on the machine running the job",
                hint="Install it (Debian: apt-get install buildah) or use another build kind.",
            )
        extra = request if isinstance(request, SourceBuildRequest) else None
        secrets = dict(extra.secret_args) if extra else {}
        redactor = Redactor([*secrets.values(), credentials.password])
        with (
            private_tempdir("buildah", base=self._temp_base) as work,
            deadline(cancel, request.timeout_seconds) as limit,
        ):
            run = _Runner(binary, _environment(work), redactor, self._on_line, limit.token)
            options = _registry_options(work, credentials, extra)
            try:
                run(
                    _bud_argv(request, extra, options, self._secret_options(work, secrets)), "build"
                )
                digest_file = work / "digest"
                run(
                    [
                        "push",
                        *options,
                        "--digestfile",
                        str(digest_file),
                        request.image,
                        f"docker://{request.image}",
                    ],
                    "push",
                )
            except BuildError:
                if limit.expired:
                    raise BuildError(
                        f"the build of {request.image} timed out after "
                        f"{request.timeout_seconds:g} s; nothing was pushed",
                        hint="Raise build_timeout for the service, or make the build faster.",
                    ) from None
                raise
            digest = digest_file.read_text().strip()
        return BuiltImage(image=request.image, digest=digest)

    def _secret_options(self, work: Path, secrets: dict[str, SecretValue]) -> list[str]:
        if not secrets:
            return []
        directory = work / "secrets"
        directory.mkdir(mode=0o700)
        options: list[str] = []
        for name, value in sorted(secrets.items()):
            path = write_private_file(directory, name, value.reveal().encode())
            options.append(f"--secret=id={name},src={path}")
        return options


def _environment(work: Path) -> dict[str, str]:
    (work / "tmp").mkdir()
    storage = work / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{work / "run"}"\ngraphroot = "{work / "graph"}"\n'
    )
    registries = work / "registries.conf"
    registries.write_text("unqualified-search-registries = []\n")
    return child_env(
        ("PATH", "LANG", "LC_ALL", "TZ"),
        {
            "HOME": str(work),
            "TMPDIR": str(work / "tmp"),
            "CONTAINERS_STORAGE_CONF": str(storage),
            "CONTAINERS_REGISTRIES_CONF": str(registries),
            "BUILDAH_ISOLATION": "chroot",
        },
    )


def _registry_options(
    work: Path, credentials: RegistryCredentials, extra: SourceBuildRequest | None
) -> list[str]:
    options = [f"--tls-verify={'false' if extra and not extra.tls_verify else 'true'}"]
    if credentials.username:
        options += ["--authfile", str(write_auth_file(work, [credentials]))]
    if extra and extra.ca_pem:
        options += ["--cert-dir", str(write_cert_dir(work, extra.ca_pem))]
    return options


def _bud_argv(
    request: BuildRequest,
    extra: SourceBuildRequest | None,
    registry_options: list[str],
    secret_options: list[str],
) -> list[str]:
    argv = ["bud", "--isolation", "chroot", "-f", str(request.dockerfile), "-t", request.image]
    argv += registry_options + secret_options
    for name, value in sorted(request.build_args.items()):
        argv += ["--build-arg", f"{name}={value}"]
    if request.target:
        argv += ["--target", request.target]
    if request.platform:
        argv += ["--platform", request.platform]
    if extra and (extra.cache_from or extra.cache_to):
        argv.append("--layers")
        argv += ["--cache-from", extra.cache_from] if extra.cache_from else []
        argv += ["--cache-to", extra.cache_to] if extra.cache_to else []
    return [*argv, str(request.context)]


class _Runner:
    """Runs buildah sub-commands, redacting and keeping the tail of the output for errors."""

    def __init__(
        self,
        binary: str,
        env: dict[str, str],
        redactor: Redactor,
        on_line: Callable[[str], None],
        cancel: CancelToken,
    ) -> None:
        self._binary, self._env, self._redactor = binary, env, redactor
        self._on_line, self._cancel = on_line, cancel
        self._tail: list[str] = []

    def __call__(self, args: Iterable[str], what: str) -> None:
        self._tail.clear()
        code = run_process(
            [self._binary, *args], env=self._env, on_line=self._line, cancel=self._cancel
        )
        if code != 0:
            if self._cancel.cancelled and not self._cancel.reason.startswith("timed out"):
                self._cancel.raise_if_cancelled()
            raise BuildError(
                f"buildah could not {what} the image: {self._tail[-1] if self._tail else code}",
                hint=_hint(what, "\n".join(self._tail)),
            )

    def _line(self, line: str) -> None:
        clean = self._redactor.redact(line)
        self._tail[:] = [*self._tail[-(_TAIL - 1) :], clean]
        self._on_line(clean)


def _hint(what: str, output: str) -> str:
    lowered = output.lower()
    if "unauthorized" in lowered or "authentication required" in lowered:
        return "The registry refused the credentials: check the registry section's password."
    if what == "push":
        return "Check the registry URL, its TLS settings and that the user may push."
    return "Read the build output above; the Dockerfile or its context has a problem."
