"""git speaks only network transports: a repository on this machine is refused by git itself,
for the repository and for its submodules alike, unless the host allows local sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from qengine._errors import BuildError
from qengine.interfaces.cancel import CancelToken
from qengine.source import GitAuth, fetch_commit
from qengine.testing.git_server import make_repository, serve_git


def _fetch(
    url: str, sha: str, dest: Path, *, submodules: bool = False, allow_local: bool = False
) -> list[str]:
    lines: list[str] = []
    fetch_commit(
        url,
        sha,
        dest,
        auth=GitAuth(),
        cancel=CancelToken(),
        on_line=lines.append,
        submodules=submodules,
        allow_local=allow_local,
    )
    return lines


@pytest.fixture
def local(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "repos"
    root.mkdir()
    sha = make_repository(root, "host.git", {"host-file.txt": b"from this machine\n"})
    return root / "host.git", sha


@pytest.mark.parametrize("form", ["file-url", "path"])
def test_a_repository_on_this_machine_is_refused(
    local: tuple[Path, str], tmp_path: Path, form: str
) -> None:
    repository, sha = local
    url = repository.as_uri() if form == "file-url" else str(repository)
    dest = tmp_path / "checkout"
    with pytest.raises(BuildError):
        _fetch(url, sha, dest)
    assert not (dest / "host-file.txt").exists()


def test_local_sources_are_fetched_when_the_host_allows_them(
    local: tuple[Path, str], tmp_path: Path
) -> None:
    repository, sha = local
    dest = tmp_path / "checkout"
    _fetch(repository.as_uri(), sha, dest, allow_local=True)
    assert (dest / "host-file.txt").read_bytes() == b"from this machine\n"


def test_a_submodule_on_this_machine_is_refused(local: tuple[Path, str], tmp_path: Path) -> None:
    """The superproject is remote (HTTP on 127.0.0.1); its submodule names a local path."""
    repository, library = local
    root = tmp_path / "served"
    root.mkdir()
    sha = make_repository(
        root,
        "main.git",
        {"main.txt": b"main\n"},
        submodules={"vendor/host": (repository.as_uri(), library)},
    )
    dest = tmp_path / "checkout"
    with serve_git(root) as server, pytest.raises(BuildError):
        _fetch(server.url_of("main.git"), sha, dest, submodules=True)
    assert not (dest / "vendor" / "host" / "host-file.txt").exists()
