"""Mirroring an external image into the user's registry, by digest, with ``skopeo copy``.

The source must be pinned by digest, and the copy keeps digests (``--preserve-digests``,
every platform of an index with ``--all``), so what runs is byte for byte what was pinned.
The copy is tagged ``sha256-<hex>`` (registries need a tag or digest to push a manifest) and
referenced by digest. Signatures are not verified (the policy accepts any image): pin digests.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from qengine import BuildError, InfrastructureError, InvalidInputError
from qengine.plugin import CancelToken, ContainerRegistry, RegistryCredentials
from qengine.runner.process import run_process
from qengine.secrets.hygiene import child_env, private_tempdir, write_private_file
from qengine.secrets.redaction import Redactor
from qengine.source.auth_file import write_auth_file, write_cert_dir
from qengine.source.references import parse_image

_POLICY = b'{"default": [{"type": "insecureAcceptAnything"}]}'


def mirror_image(
    source: str,
    registry: ContainerRegistry,
    repository: str,
    *,
    cancel: CancelToken,
    on_line: Callable[[str], None],
    source_credentials: RegistryCredentials | None = None,
    source_tls_verify: bool = True,
) -> str:
    """Copy ``source`` (``host/repo@sha256:...``) to ``repository`` of ``registry`` (any
    :class:`~qengine.plugin.ContainerRegistry`); return ``host/repository@digest``. Nothing is
    copied if the digest is already there."""
    name = parse_image(source)
    if name.digest is None:
        raise InvalidInputError(
            f"the image {source!r} to mirror is not pinned by digest",
            hint="Give the digest (image@sha256:...) so the mirror copies exactly that image.",
        )
    tag = name.digest.replace(":", "-")
    target = f"{registry.host}/{repository}"
    if registry.digest_of(repository, name.digest) is not None:
        return f"{target}@{name.digest}"
    binary = shutil.which("skopeo")
    if binary is None:
        raise BuildError(
            "mirroring needs skopeo, which is not installed", hint="apt-get install skopeo"
        )
    credentials = [registry.credentials()] + ([source_credentials] if source_credentials else [])
    redactor = Redactor([c.password for c in credentials if c.password])
    with private_tempdir("mirror") as private:
        argv = [
            binary,
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "2",
            "--policy",
            str(write_private_file(private, "policy.json", _POLICY)),
            "--authfile",
            str(write_auth_file(private, [c for c in credentials if c.username])),
            f"--src-tls-verify={'true' if source_tls_verify else 'false'}",
            f"--dest-tls-verify={'true' if registry.tls_verify else 'false'}",
        ]
        if registry.ca_pem:
            argv += ["--dest-cert-dir", str(write_cert_dir(private, registry.ca_pem))]
        argv += [f"docker://{source}", f"docker://{target}:{tag}"]
        tail: list[str] = []

        def line(text: str) -> None:
            clean = redactor.redact(text)
            tail[:] = [*tail[-9:], clean]
            on_line(clean)

        env = child_env(("PATH", "LANG"), {"HOME": str(private), "TMPDIR": str(private)})
        code = run_process(argv, env=env, on_line=line, cancel=cancel)
        cancel.raise_if_cancelled()
    if code != 0:
        raise InfrastructureError(
            f"mirroring {source} failed: {tail[-1] if tail else 'no output'}",
            hint="Check that the source image exists and both registries' credentials.",
        )
    copied = registry.digest_of(repository, tag)
    if copied != name.digest:
        raise InfrastructureError(f"the mirrored image has digest {copied}, not {name.digest}")
    return f"{target}@{name.digest}"
