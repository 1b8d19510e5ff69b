"""A base image for build tests, made without any public registry: Debian's static busybox
copied into an empty image (``buildah from scratch; copy; commit``) and pushed to a local
registry. Needs ``buildah`` and ``busybox-static`` (``.ci/install-build-tools.sh``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from qengine.secrets.hygiene import child_env, private_tempdir


def push_busybox_base(registry_host: str, repository: str = "base/busybox", tag: str = "1") -> str:
    """Build the base image and push it over plain HTTP; its reference."""
    busybox = shutil.which("busybox")
    if busybox is None or shutil.which("buildah") is None:
        raise RuntimeError("buildah and busybox-static are needed: run .ci/install-build-tools.sh")
    reference = f"{registry_host}/{repository}:{tag}"
    with private_tempdir("busybox-base") as work:
        storage = work / "storage.conf"
        storage.write_text(
            f'[storage]\ndriver = "vfs"\nrunroot = "{work}/run"\ngraphroot = "{work}/graph"\n'
        )
        env = child_env(("PATH",), {"HOME": str(work), "CONTAINERS_STORAGE_CONF": str(storage)})

        def buildah(*args: str) -> str:
            done = subprocess.run(
                ["buildah", *args], env=env, capture_output=True, text=True, check=True
            )
            return done.stdout.strip()

        container = buildah("from", "scratch")
        buildah("copy", container, str(Path(busybox).resolve()), "/bin/busybox")
        buildah(
            "run", "--isolation", "chroot", container, "/bin/busybox", "--install", "-s", "/bin"
        )
        buildah("config", "--cmd", "/bin/sh", container)
        buildah("commit", "-q", container, reference)
        buildah("push", "--tls-verify=false", reference, f"docker://{reference}")
    return reference
