"""Finding the ``terraform`` binary, loudly."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from qengine._errors import InfrastructureError

DEFAULT_BINARY = Path("/usr/local/bin/terraform")
SUPPORTED_SERIES = "1.11"


class TerraformNotFoundError(InfrastructureError):
    """No usable ``terraform`` executable was found."""

    default_hint = (
        f"Install Terraform {SUPPORTED_SERIES} (https://developer.hashicorp.com/terraform/install)"
        " and put it on PATH, or give its path explicitly."
    )


def find_terraform(explicit: Path | None = None) -> Path:
    """Return the terraform executable to use.

    ``explicit`` wins when given; otherwise ``terraform`` on the PATH, then
    :data:`DEFAULT_BINARY`. Raises :class:`TerraformNotFoundError` when none is executable.
    """
    if explicit is not None:
        if _is_executable(explicit):
            return explicit
        raise TerraformNotFoundError(f"terraform binary not found or not executable: {explicit}")
    on_path = shutil.which("terraform")
    if on_path is not None:
        return Path(on_path)
    if _is_executable(DEFAULT_BINARY):
        return DEFAULT_BINARY
    raise TerraformNotFoundError("terraform binary not found on PATH nor at " + str(DEFAULT_BINARY))


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
