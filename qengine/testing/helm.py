"""The real helm for tests: the one a host names, else one fetched by a checkout's script.

The test suites of the core and of the Kubernetes, add-on and cloud plugins run the real
``helm``; none skips without it. :func:`real_helm` gives ``$QENGINE_HELM`` when it is set, else
runs the checkout's ``.ci/get-helm.sh`` (which puts a pinned helm under ``.tools/helm/`` and
prints its path) and gives what it printed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


class HelmUnavailableError(RuntimeError):
    """Neither ``$QENGINE_HELM`` nor the checkout's script gave a helm binary."""


def real_helm(checkout: Path, *, environ: dict[str, str] | None = None) -> Path:
    """The helm binary tests run: ``$QENGINE_HELM``, else ``<checkout>/.ci/get-helm.sh``'s.

    Raises :class:`HelmUnavailableError` (with the script's error output) when the script
    fails, e.g. without npm or the network on a machine that never fetched it.
    """
    env = os.environ if environ is None else environ
    configured = env.get("QENGINE_HELM")
    if configured:
        return Path(configured)
    script = checkout / ".ci" / "get-helm.sh"
    result = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": env.get("PATH", "/usr/bin:/bin"), "HOME": str(checkout / ".tools")},
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise HelmUnavailableError(
            f"cannot get helm with {script} (exit {result.returncode}): "
            f"{result.stderr.strip()[-2000:]}\nInstall npm, or set QENGINE_HELM to a helm 3 binary."
        )
    return Path(result.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def helm_in_environ(checkout: Path) -> Iterator[Path]:
    """``$QENGINE_HELM`` set to :func:`real_helm`'s binary for the block (left as it is when
    already set), for code that reads it from the environment, as an infrastructure job's
    preflight does."""
    if os.environ.get("QENGINE_HELM"):
        yield Path(os.environ["QENGINE_HELM"])
        return
    binary = real_helm(checkout)
    os.environ["QENGINE_HELM"] = str(binary)
    try:
        yield binary
    finally:
        os.environ.pop("QENGINE_HELM", None)
