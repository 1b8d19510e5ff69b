"""A per-job Terraform working directory.

Layout (the directory is 0700 and is removed when the ``with`` block ends, however it ends)::

    <tmp>/qengine-tf-XXXX/
        main.tf.json              the root module, written from data with json.dump
        backend.tfbackend.json    non-secret backend settings for ``terraform init``
        .qengine/cli.tfrc.json    our CLI configuration (TF_CLI_CONFIG_FILE)
        .qengine/empty-mirror/    the empty provider mirror that keeps installs offline
        .qengine/tmp/             TMPDIR of the terraform process
        .terraform/               terraform's own data directory

The workspace also serves as terraform's HOME, so nothing is read from or written to the
host user's home directory (``~/.terraform.d``, credentials files).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from qengine._errors import InvalidInputError
from qengine.terraform.cliconfig import ProviderSources, cli_config
from qengine.terraform.json_types import Json

ROOT_MODULE = "main.tf.json"
BACKEND_FILE = "backend.tfbackend.json"


class Workspace:
    """A private directory holding one job's root module; use it as a context manager.

    Construct with :meth:`create`. Paths are absolute. Not thread-safe: one job, one workspace.
    """

    def __init__(self, path: Path, sources: ProviderSources) -> None:
        self.path = path
        self.sources = sources
        self._backend_type: str | None = None

    @classmethod
    def create(
        cls, *, sources: ProviderSources | None = None, parent: Path | None = None
    ) -> Workspace:
        """Make a fresh 0700 directory under ``parent`` (default: the system temp dir)."""
        path = Path(tempfile.mkdtemp(prefix="qengine-tf-", dir=parent)).resolve()
        workspace = cls(path, sources or ProviderSources())
        try:
            workspace._prepare()
        except BaseException:
            workspace.remove()
            raise
        return workspace

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    @property
    def private_dir(self) -> Path:
        """Our own files (CLI config, temp dir), apart from the module."""
        return self.path / ".qengine"

    @property
    def cli_config_file(self) -> Path:
        return self.private_dir / "cli.tfrc.json"

    @property
    def tmp_dir(self) -> Path:
        return self.private_dir / "tmp"

    @property
    def backend_type(self) -> str | None:
        """The backend the root module declares (``s3``, ``gcs``, ...), or None for local."""
        return self._backend_type

    def write_root_module(self, module: Mapping[str, Json]) -> Path:
        """Write ``module`` (Terraform JSON syntax, as data) to ``main.tf.json``."""
        self._backend_type = _declared_backend(module)
        return self._write_json(ROOT_MODULE, module)

    def write_backend_config(self, config: Mapping[str, Json]) -> Path:
        """Write the backend settings ``terraform init -backend-config`` reads. No secrets."""
        return self._write_json(BACKEND_FILE, config)

    def remove(self) -> None:
        """Delete the directory and everything in it; safe to call twice."""
        shutil.rmtree(self.path, ignore_errors=True)

    def _prepare(self) -> None:
        os.chmod(self.path, 0o700)
        empty_mirror = self.private_dir / "empty-mirror"
        empty_mirror.mkdir(parents=True, mode=0o700)
        self.tmp_dir.mkdir(mode=0o700)
        config = cli_config(self.sources, empty_mirror)
        self._write_json(str(self.cli_config_file.relative_to(self.path)), config)

    def _write_json(self, name: str, document: Mapping[str, Json]) -> Path:
        target = self.path / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.write("\n")
        return target


def _declared_backend(module: Mapping[str, Json]) -> str | None:
    blocks = module.get("terraform", {})
    for block in blocks if isinstance(blocks, list) else [blocks]:
        backend = block.get("backend") if isinstance(block, dict) else None
        if isinstance(backend, dict) and len(backend) == 1:
            return next(iter(backend))
        if backend is not None:
            raise InvalidInputError(
                "the root module's terraform.backend must name exactly one backend",
                hint='Write it as {"terraform": {"backend": {"s3": {}}}}.',
            )
    return None
