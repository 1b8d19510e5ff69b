"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests, with password authentication.

The server binaries come from Debian's ``postgresql`` package (``initdb``, ``pg_ctl`` under
``/usr/lib/postgresql/<major>/bin``); a missing binary fails the test loudly
(``.ci/install-build-tools.sh`` installs it). PostgreSQL refuses to run as root: when the
tests run as root, the cluster is made and run as the ``postgres`` user through ``runuser``.
The superuser's password is written to a 0600 file the tests own; it never enters argv or
``os.environ``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from qengine.testing.registry import free_port

__all__ = ["LocalPostgres", "pg_bin", "run_postgres"]

USER = "qengine"


@attrs.frozen(kw_only=True)
class LocalPostgres:
    """A running cluster: connect with :attr:`url` and the password in :attr:`password_file`."""

    port: int
    data_dir: Path
    password_file: Path
    as_user: str | None

    @property
    def url(self) -> str:
        """A password-less URL of the ``qengine`` database as user ``qengine``."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/qengine?sslmode=disable"

    @property
    def password(self) -> str:
        """The superuser's password (for a test's own connection; never put it in argv)."""
        return self.password_file.read_text(encoding="utf-8").splitlines()[0]

    def new_database(self) -> str:
        """Create an empty database with a fresh name; its password-less URL."""
        import psycopg

        name = f"qe_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_url, password=self.password, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')  # a name made here, not user input
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}?sslmode=disable"

    @property
    def admin_url(self) -> str:
        """The URL of the ``postgres`` maintenance database."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` or ``immediate``, a crash); the data stays."""
        _pg_ctl(self, "stop", "-m", mode, "-w")

    def start(self) -> None:
        """Start the server again on the same port and data."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir}"
        _pg_ctl(self, "start", "-w", "-o", options, "-l", str(self.data_dir / "server.log"))


def pg_bin(name: str) -> str:
    """The path of a PostgreSQL server binary; fails loudly when the package is missing."""
    found = shutil.which(name)
    if found:
        return found
    root = Path("/usr/lib/postgresql")
    for major in sorted(root.iterdir(), reverse=True) if root.is_dir() else []:
        if (major / "bin" / name).exists():
            return str(major / "bin" / name)
    raise RuntimeError(
        f"{name} not found: install Debian's postgresql (.ci/install-build-tools.sh)"
    )


def _run_as(user: str | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if user else argv


def _pg_ctl(server: LocalPostgres, *args: str) -> None:
    argv = _run_as(server.as_user, [pg_bin("pg_ctl"), "-D", str(server.data_dir), *args])
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


@contextmanager
def run_postgres() -> Iterator[LocalPostgres]:
    """Make a cluster with a ``qengine`` database in a new temporary directory (a test's
    ``tmp_path`` is closed to the ``postgres`` user); stop and remove it after the block.

    The superuser ``qengine`` authenticates with a random password (scram-sha-256), also for
    local socket connections.
    """
    as_user = "postgres" if os.geteuid() == 0 else None
    directory = Path(tempfile.mkdtemp(prefix="qengine-pg-"))
    data = directory / "data"
    pwfile = directory / "superuser.pw"
    pwfile.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
    pwfile.chmod(0o600)
    if as_user:
        shutil.chown(directory, user=as_user)
        shutil.chown(pwfile, user=as_user)
    initdb = [pg_bin("initdb"), "-D", str(data), "-U", USER, "--pwfile", str(pwfile)]
    initdb += ["--auth", "scram-sha-256", "-E", "UTF8", "--no-sync", "--locale", "C"]
    subprocess.run(_run_as(as_user, initdb), check=True, capture_output=True, timeout=120)
    server = LocalPostgres(port=free_port(), data_dir=data, password_file=pwfile, as_user=as_user)
    server.start()
    try:
        _create_database(server)
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped by the test
            server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


def _create_database(server: LocalPostgres) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(server.admin_url, password=server.password, autocommit=True) as db:
                db.execute("CREATE DATABASE qengine")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
