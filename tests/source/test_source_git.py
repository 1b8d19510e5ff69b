"""Fetching one commit through the real git over smart HTTP, with and without a token."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qengine._errors import AuthError, BuildError, InvalidInputError
from qengine.interfaces.cancel import CancelToken
from qengine.secrets.value import SecretValue
from qengine.source import GitAuth, fetch_commit, inside_checkout
from qengine.testing.git_server import GitServer, make_repository, serve_git

TOKEN = "ghp_sourceTestTokenValue1234567890"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[GitServer, str]]:
    root = tmp_path / "repos"
    root.mkdir()
    sha = make_repository(
        root,
        "app.git",
        {
            "Dockerfile": b"FROM scratch\nCOPY hello /hello\n",
            "hello": b"hello\n",
            "sub/Dockerfile": b"FROM scratch\n",
            "escape": b"symlink:/etc",
            "loop": b"symlink:loop",
        },
    )
    with serve_git(root, token=TOKEN) as server:
        yield server, sha


def _fetch(server: GitServer, sha: str, dest: Path, token: str | None) -> list[str]:
    lines: list[str] = []
    auth = GitAuth(token=SecretValue(token) if token else None)
    fetch_commit(
        server.url_of("app.git"), sha, dest, auth=auth, cancel=CancelToken(), on_line=lines.append
    )
    return lines


def test_fetches_exactly_the_commit_detached(served: tuple[GitServer, str], tmp_path: Path) -> None:
    server, sha = served
    dest = tmp_path / "checkout"
    lines = _fetch(server, sha, dest, TOKEN)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert head.stdout.strip() == sha
    assert (dest / "hello").read_bytes() == b"hello\n"
    shallow = (dest / ".git" / "shallow").read_text().split()
    assert shallow == [sha]
    branch = subprocess.run(
        ["git", "symbolic-ref", "-q", "HEAD"], cwd=dest, capture_output=True, check=False
    )
    assert branch.returncode == 1  # detached
    assert not any(TOKEN in line for line in lines)


def test_token_is_nowhere_after_the_fetch(served: tuple[GitServer, str], tmp_path: Path) -> None:
    server, sha = served
    dest = tmp_path / "checkout"
    _fetch(server, sha, dest, TOKEN)
    assert not any(TOKEN in path for path in server.paths)
    for directory, _dirs, files in os.walk(dest):
        for name in files:
            path = Path(directory, name)
            if not path.is_symlink():
                assert TOKEN.encode() not in path.read_bytes(), path
    leftovers = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("qengine-git-cred*")]
    assert leftovers == []


def test_missing_token_is_an_auth_error(served: tuple[GitServer, str], tmp_path: Path) -> None:
    server, sha = served
    with pytest.raises(AuthError) as info:
        _fetch(server, sha, tmp_path / "c", None)
    assert info.value.hint


def test_wrong_token_is_an_auth_error(served: tuple[GitServer, str], tmp_path: Path) -> None:
    server, sha = served
    with pytest.raises(AuthError) as info:
        _fetch(server, sha, tmp_path / "c", "wrong-token-value")
    assert "wrong-token-value" not in str(info.value)


def test_unknown_commit_is_a_build_error(served: tuple[GitServer, str], tmp_path: Path) -> None:
    server, _sha = served
    with pytest.raises(BuildError) as info:
        _fetch(server, "0123456789abcdef0123456789abcdef01234567", tmp_path / "c", TOKEN)
    assert "no such commit" in info.value.message
    assert "commit" in (info.value.hint or "")


def test_credentials_in_url_and_short_sha_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        fetch_commit(
            "https://user:pw@example.invalid/r.git",
            "a" * 40,
            tmp_path,
            auth=GitAuth(),
            cancel=CancelToken(),
            on_line=print,
        )
    with pytest.raises(InvalidInputError):
        fetch_commit(
            "https://example.invalid/r.git",
            "abc123",
            tmp_path,
            auth=GitAuth(),
            cancel=CancelToken(),
            on_line=print,
        )


def test_paths_stay_inside_the_checkout(served: tuple[GitServer, str], tmp_path: Path) -> None:
    server, sha = served
    dest = tmp_path / "checkout"
    _fetch(server, sha, dest, TOKEN)
    assert inside_checkout(dest, "sub/Dockerfile", what="Dockerfile") == (
        dest.resolve() / "sub" / "Dockerfile"
    )
    assert inside_checkout(dest, ".", what="build context") == dest.resolve()
    for bad in ("../Dockerfile", "sub/../../x", "/etc/passwd", "escape", "escape/passwd", "loop"):
        with pytest.raises(InvalidInputError) as info:
            inside_checkout(dest, bad, what="Dockerfile")
        assert info.value.hint


def test_submodules_are_fetched_with_the_same_token(tmp_path: Path) -> None:
    root = tmp_path / "repos"
    root.mkdir()
    library = make_repository(root, "lib.git", {"lib.txt": b"library\n"})
    sha = make_repository(
        root,
        "main.git",
        {"main.txt": b"main\n"},
        submodules={"vendor/lib": ("../lib.git", library)},
    )
    with serve_git(root, token=TOKEN) as server:
        dest = tmp_path / "checkout"
        lines: list[str] = []
        fetch_commit(
            server.url_of("main.git"),
            sha,
            dest,
            auth=GitAuth(token=SecretValue(TOKEN)),
            cancel=CancelToken(),
            on_line=lines.append,
            submodules=True,
        )
        assert (dest / "vendor" / "lib" / "lib.txt").read_bytes() == b"library\n"
        without = tmp_path / "without"
        fetch_commit(
            server.url_of("main.git"),
            sha,
            without,
            auth=GitAuth(token=SecretValue(TOKEN)),
            cancel=CancelToken(),
            on_line=lines.append,
        )
        assert not (without / "vendor" / "lib" / "lib.txt").exists()
    assert not any(TOKEN in line for line in lines)
    for config in dest.rglob("config"):
        assert TOKEN not in config.read_text()
