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
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from qengine import BuildError
from qengine.plugin import (
    BuildBackend,
    BuildRequest,
    BuiltImage,
    CancelToken,
    RegistryCredentials,
    SecretValue,
)
from qengine.runner.process import run_process
from qengine.secrets.hygiene import child_env, private_tempdir, write_private_file
from qengine.secrets.redaction import Redactor
from qengine.source.auth_file import write_auth_file, write_cert_dir
from qengine.source.deadline import build_deadline
from qengine.source.references import parse_image

_TAIL = 15


class BuildahBackend(BuildBackend):
    """Builds with the ``buildah`` binary on ``PATH``.

    ``layers`` keeps intermediate layers (``--layers``; a cache implies it); ``temp_base`` is
    where the private build directory is made (the system's temporary directory if None).
    """

    def __init__(
        self, *, layers: bool = False, temp_base: Path | None = None, binary: str = "buildah"
    ) -> None:
        self._layers = layers
        self._temp_base = temp_base
        self._binary = binary

    def build_and_push(
        self,
        request: BuildRequest,
        credentials: RegistryCredentials,
        cancel: CancelToken,
        log: Callable[[str], None],
    ) -> BuiltImage:
        """Build ``request`` and push it (see :meth:`BuildBackend.build_and_push`, and the
        module docstring for what stays where).

        Raises InvalidInputError (bad image reference), BuildError (buildah missing, the build
        or the push failed, or timed out: nothing is pushed then) and CancelledError.
        """
        parse_image(request.image)
        binary = shutil.which(self._binary)
        if binary is None:
            raise BuildError(
                "buildah is not installed on the machine running the job",
                hint="Install it (Debian: apt-get install buildah) or use another build kind.",
            )
        redactor = Redactor([*request.secret_args.values(), credentials.password])
        with (
            private_tempdir("buildah", base=self._temp_base) as work,
            build_deadline(cancel, request.timeout_seconds, request.image) as token,
        ):
            run = _Runner(binary, _environment(work), redactor, log, token)
            options = _registry_options(work, credentials, request)
            secrets = _secret_options(work, request.secret_args)
            run(_bud_argv(request, options, secrets, layers=self._layers), "build")
            digest_file = work / "digest"
            push = ["push", *options, "--digestfile", str(digest_file)]
            run([*push, "--", request.image, f"docker://{request.image}"], "push")
            digest = digest_file.read_text().strip()
        return BuiltImage(image=request.image, digest=digest)


def _secret_options(work: Path, secrets: Mapping[str, SecretValue]) -> list[str]:
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
    work: Path, credentials: RegistryCredentials, request: BuildRequest
) -> list[str]:
    options = [f"--tls-verify={'true' if request.tls_verify else 'false'}"]
    if credentials.username:
        options += ["--authfile", str(write_auth_file(work, [credentials]))]
    if request.ca_pem:
        options += ["--cert-dir", str(write_cert_dir(work, request.ca_pem))]
    return options


def _bud_argv(
    request: BuildRequest, registry_options: list[str], secret_options: list[str], *, layers: bool
) -> list[str]:
    # Values from the spec are `--flag=value` and the context comes after `--`: none can be
    # read as a flag, whatever it starts with.
    argv = ["bud", "--isolation=chroot", f"--file={request.dockerfile}", f"--tag={request.image}"]
    argv += registry_options + secret_options
    argv += [f"--build-arg={name}={value}" for name, value in sorted(request.build_args.items())]
    if request.target:
        argv.append(f"--target={request.target}")
    if request.platform:
        argv.append(f"--platform={request.platform}")
    if layers or request.cache_from or request.cache_to:
        argv.append("--layers")  # buildah reads and writes a cache only with --layers
    argv += [f"--cache-from={request.cache_from}"] if request.cache_from else []
    argv += [f"--cache-to={request.cache_to}"] if request.cache_to else []
    return [*argv, "--", str(request.context)]


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
        # A cancelled token (a timeout too: build_deadline makes that a BuildError) starts no
        # command and explains a failed one; a command that succeeded stays done.
        self._cancel.raise_if_cancelled()
        self._tail.clear()
        code = run_process(
            [self._binary, *args], env=self._env, on_line=self._line, cancel=self._cancel
        )
        if code != 0:
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
