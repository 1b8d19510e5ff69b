"""Fetching over SSH from a real sshd with a key, strict host checking and refusals."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qengine._errors import AuthError
from qengine.interfaces.cancel import CancelToken
from qengine.secrets.value import SecretValue
from qengine.source import GitAuth, fetch_commit
from qengine.testing.git_server import make_repository
from qengine.testing.ssh_server import SshServer, generate_key, run_sshd


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    with run_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("ssh-repos")
    sha = make_repository(root, "app.git", {"Dockerfile": b"FROM scratch\n"})
    return root / "app.git", sha


def _fetch(sshd: SshServer, repository: tuple[Path, str], dest: Path, auth: GitAuth) -> list[str]:
    lines: list[str] = []
    path, sha = repository
    fetch_commit(
        sshd.url_of(path),
        sha,
        dest,
        auth=auth,
        cancel=CancelToken(),
        on_line=lines.append,
        temp_base=dest.parent,
    )
    return lines


def test_fetches_with_a_key_and_strict_host_checking(
    sshd: SshServer, repository: tuple[Path, str], tmp_path: Path
) -> None:
    dest = tmp_path / "checkout"
    auth = GitAuth(ssh_key=SecretValue(sshd.client_key), known_hosts=sshd.known_hosts)
    _fetch(sshd, repository, dest, auth)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=dest, capture_output=True, text=True)
    assert head.stdout.strip() == repository[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout"]  # the key file is gone
    config = (dest / ".git" / "config").read_text()
    assert "PRIVATE KEY" not in config


def test_first_use_is_accepted_without_known_hosts(
    sshd: SshServer, repository: tuple[Path, str], tmp_path: Path
) -> None:
    _fetch(sshd, repository, tmp_path / "c", GitAuth(ssh_key=SecretValue(sshd.client_key)))


def test_an_unknown_key_is_refused(
    sshd: SshServer, repository: tuple[Path, str], tmp_path: Path
) -> None:
    other = generate_key(tmp_path / "other")
    (tmp_path / "other").unlink()
    (tmp_path / "other.pub").unlink()
    with pytest.raises(AuthError) as info:
        _fetch(sshd, repository, tmp_path / "c", GitAuth(ssh_key=SecretValue(other)))
    assert "PRIVATE KEY" not in str(info.value)


def test_a_changed_host_key_is_refused(
    sshd: SshServer, repository: tuple[Path, str], tmp_path: Path
) -> None:
    generate_key(tmp_path / "fake_host")
    fake = (tmp_path / "fake_host.pub").read_text().split()
    (tmp_path / "fake_host").unlink()
    (tmp_path / "fake_host.pub").unlink()
    known = f"[127.0.0.1]:{sshd.port} {fake[0]} {fake[1]}\n"
    auth = GitAuth(ssh_key=SecretValue(sshd.client_key), known_hosts=known)
    with pytest.raises(AuthError):
        _fetch(sshd, repository, tmp_path / "c", auth)
