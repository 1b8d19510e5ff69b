"""Fetch exactly one commit of a git repository, authenticated by a token or an SSH key.

Credentials never appear in a URL, argv, the environment's values, ``.git/config`` or logs:

- a token is written to a 0600 file in a private (0700) temporary directory, and git asks for
  it through a ``GIT_ASKPASS`` script that reads that file (the script holds only paths);
- an SSH key is written to a 0600 file there and handed to ssh by ``GIT_SSH_COMMAND`` with
  ``-i FILE -o IdentitiesOnly=yes``. Host keys: with ``known_hosts`` given, ssh checks the
  server strictly against it (``StrictHostKeyChecking=yes``); without, the first key seen is
  accepted for this fetch only (``accept-new`` into a throw-away file), which protects
  against nothing on the first connection: give ``known_hosts`` for untrusted networks.

The directory is removed when the fetch ends, whatever happened. Git runs with no system or
global configuration, no terminal prompt and no stored credential helper.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import attrs

from qengine._errors import AuthError, BuildError, InvalidInputError
from qengine.interfaces.cancel import CancelToken
from qengine.runner.process import run_process
from qengine.secrets.hygiene import child_env, private_tempdir, write_private_file
from qengine.secrets.redaction import Redactor
from qengine.secrets.value import SecretValue

_ENV_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "TZ")
_TAIL = 20
_AUTH_SIGNS = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "permission denied (publickey",
    "returned error: 401",
    "returned error: 403",
    "host key verification failed",
)
_MISSING_SIGNS = (
    "not our ref",
    "couldn't find remote ref",
    "no such remote ref",
    "unadvertised object",
    "not a valid object",
)
_ASKPASS = """#!/bin/sh
case "$1" in
  Username*|username*) exec cat {user} ;;
  *) exec cat {token} ;;
esac
"""


@attrs.frozen(kw_only=True)
class GitAuth:
    """How to authenticate: a token (HTTPS, sent as the password of ``username``) or an SSH
    key (PEM/OpenSSH text), or neither for a public repository."""

    token: SecretValue | None = attrs.field(default=None, repr=False)
    username: str = "x-access-token"
    ssh_key: SecretValue | None = attrs.field(default=None, repr=False)
    known_hosts: str | None = None

    def secrets(self) -> tuple[SecretValue, ...]:
        """The secret values, for a redactor."""
        return tuple(value for value in (self.token, self.ssh_key) if value is not None)


def fetch_commit(
    url: str,
    commit: str,
    dest: Path,
    *,
    auth: GitAuth,
    cancel: CancelToken,
    on_line: Callable[[str], None],
    submodules: bool = False,
    lfs: bool = False,
    temp_base: Path | None = None,
    allow_local: bool = False,
) -> Path:
    """Check out ``commit`` of ``url`` into the empty or missing directory ``dest``, detached.

    Only that commit is fetched (depth 1). ``on_line`` receives git's output, redacted.
    Raises AuthError (credentials refused), BuildError (commit not found, other git failures),
    InvalidInputError (credentials in the URL, a commit that is not a full SHA) and
    CancelledError. Post: ``git rev-parse HEAD`` equals ``commit``; no credential file remains.

    git may only speak the network transports (``GIT_ALLOW_PROTOCOL``: https, http, ssh, git),
    for the repository, its submodules and any redirect alike: a repository on this machine
    (``file://``, a path) or a command transport (``ext::``) is refused by git itself, unless
    ``allow_local`` (an explicit choice of the host, e.g. for a local mirror) adds ``file``.
    """
    _check_inputs(url, commit)
    redactor = Redactor(auth.secrets())
    with private_tempdir("git-credentials", base=temp_base) as private:
        env = _environment(private, auth)
        env["GIT_ALLOW_PROTOCOL"] = _PROTOCOLS + (":file" if allow_local else "")
        git = _Git(env=env, cancel=cancel, on_line=on_line, redactor=redactor, cwd=dest)
        dest.mkdir(parents=True, exist_ok=True)
        git.run(["init", "-q"], what="initialise the checkout")
        # The URL and commit come after `--`: neither can be read as an option.
        git.run(["remote", "add", "--", "origin", url], what="add the remote")
        git.run(
            ["-c", "protocol.version=2", "fetch", "--depth=1", "--no-tags", "--", "origin", commit],
            what=f"fetch commit {commit}",
        )
        git.run(["checkout", "-q", "--detach", "FETCH_HEAD"], what="check out the commit")
        if submodules:
            git.run(
                ["submodule", "update", "--init", "--recursive", "--depth", "1"],
                what="fetch the submodules",
            )
        if lfs:
            _lfs_pull(git, env)
    return dest


# The transports a fetch may use; git refuses any other, submodules and redirects included.
_PROTOCOLS = "https:http:ssh:git"


def _check_inputs(url: str, commit: str) -> None:
    parts = urlsplit(url)
    # A user name is part of an SSH address (git@host); over HTTP(S) it would hold a token.
    if parts.password or (parts.username and parts.scheme in ("http", "https")):
        raise InvalidInputError(
            "the git URL carries credentials",
            hint="Remove them from the URL; give a token or an SSH key as a secret reference.",
        )
    if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit.lower()):
        raise InvalidInputError(
            f"{commit!r} is not a full commit SHA",
            hint="Give the 40-character commit id (`git rev-parse HEAD`).",
        )


def _environment(private: Path, auth: GitAuth) -> dict[str, str]:
    extra = {
        "HOME": str(private),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_LFS_SKIP_SMUDGE": "1",
        "GIT_ASKPASS": "/bin/false",  # no token: a 401 fails at once instead of prompting
    }
    if auth.token is not None:
        user = write_private_file(private, "username", auth.username.encode() + b"\n")
        token = write_private_file(private, "token", auth.token.reveal().encode() + b"\n")
        script = _ASKPASS.format(user=shlex.quote(str(user)), token=shlex.quote(str(token)))
        path = write_private_file(private, "askpass", script.encode())
        path.chmod(0o700)
        extra["GIT_ASKPASS"] = str(path)
    extra["GIT_SSH_COMMAND"] = _ssh_command(private, auth)
    return child_env(_ENV_ALLOWLIST, extra)


def _ssh_command(private: Path, auth: GitAuth) -> str:
    known = private / "known_hosts"
    options = ["-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known}"]
    if auth.known_hosts is not None:
        write_private_file(private, "known_hosts", auth.known_hosts.encode())
        options += ["-o", "StrictHostKeyChecking=yes"]
    else:
        options += ["-o", "StrictHostKeyChecking=accept-new"]
    if auth.ssh_key is not None:
        key_text = auth.ssh_key.reveal().rstrip("\n") + "\n"
        key = write_private_file(private, "ssh_key", key_text.encode())
        options += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
    return shlex.join(["ssh", *options])


def _lfs_pull(git: _Git, env: dict[str, str]) -> None:
    if shutil.which("git-lfs", path=env.get("PATH")) is None:
        raise BuildError(
            "the service asks for Git LFS files but git-lfs is not installed",
            hint="Install git-lfs on the machine that runs the build, or set lfs: false.",
        )
    git.run(["lfs", "install", "--local"], what="enable Git LFS")
    git.run(["lfs", "pull"], what="fetch the Git LFS files")


@attrs.define(kw_only=True)
class _Git:
    env: dict[str, str]
    cancel: CancelToken
    on_line: Callable[[str], None]
    redactor: Redactor
    cwd: Path
    tail: list[str] = attrs.field(factory=list)

    def run(self, args: Sequence[str], *, what: str) -> None:
        self.tail.clear()
        argv = ["git", "-c", "credential.helper=", *args]
        code = run_process(argv, env=self.env, on_line=self._line, cancel=self.cancel, cwd=self.cwd)
        self.cancel.raise_if_cancelled()
        if code != 0:
            raise _failure(what, self.tail)

    def _line(self, line: str) -> None:
        clean = self.redactor.redact(line)
        self.tail[:] = [*self.tail[-(_TAIL - 1) :], clean]
        self.on_line(clean)


def _failure(what: str, tail: list[str]) -> Exception:
    text = "\n".join(tail).lower()
    detail = tail[-1] if tail else "no output"
    if any(sign in text for sign in _AUTH_SIGNS):
        return AuthError(
            f"the git server refused the credentials (could not {what}): {detail}",
            hint="Check the token or SSH key secret and that it may read this repository.",
        )
    if any(sign in text for sign in _MISSING_SIGNS):
        return BuildError(
            f"could not {what}: the repository has no such commit",
            hint="Check the commit SHA and that it was pushed to this repository.",
        )
    return BuildError(
        f"could not {what}: {detail}",
        hint="Check the repository URL and that the machine running the job can reach it.",
    )
