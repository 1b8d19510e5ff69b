"""A git smart-HTTP server on 127.0.0.1 for tests: the real ``git http-backend`` run as a CGI
program behind a small threaded HTTP server, optionally requiring a token (HTTP basic auth,
any user name, the token as password).

Every request's path and Authorization header are recorded, so tests can check where a token
travelled.
"""

from __future__ import annotations

import base64
import hmac
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import attrs

from qengine.secrets.hygiene import child_env


@attrs.define(kw_only=True)
class GitServer:
    """A running server: ``url_of(name)`` is the clone URL of ``root/name``."""

    root: Path
    port: int
    token: str | None
    paths: list[str] = attrs.field(factory=list)

    def url_of(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


@contextmanager
def serve_git(root: Path, *, token: str | None = None) -> Iterator[GitServer]:
    """Serve the bare repositories under ``root`` until the block ends."""
    state = GitServer(root=root, port=0, token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="git-http", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _handler_for(state: GitServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _authorised(self) -> bool:
            if state.token is None:
                return True
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return False
            _user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return hmac.compare_digest(password.encode(), state.token.encode())

        def _serve(self) -> None:
            state.paths.append(self.path)
            if not self._authorised():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = self._body()
            path, _, query = self.path.partition("?")
            env = child_env(
                ("PATH",),
                {
                    "GIT_PROJECT_ROOT": str(state.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "GATEWAY_INTERFACE": "CGI/1.1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_ADDR": "127.0.0.1",
                    "REMOTE_USER": "git",
                    "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                },
            )
            result = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            self._reply(result.stdout)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _reply(self, output: bytes) -> None:
            head, _, payload = output.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = output.partition(b"\n\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for raw in head.decode("latin-1").splitlines():
                name, _, value = raw.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def make_repository(
    root: Path,
    name: str,
    files: dict[str, bytes],
    submodules: dict[str, tuple[str, str]] | None = None,
) -> str:
    """A bare repository ``root/name`` with one commit holding ``files``; its SHA.

    ``files`` values starting with ``symlink:`` make symbolic links. ``submodules`` maps a path
    to ``(url, commit)``: a gitlink and its ``.gitmodules`` entry (URLs may be relative).
    """
    work = root / f"{name}.work"
    env = child_env(
        ("PATH",),
        {
            "HOME": str(root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "test",
            "GIT_AUTHOR_EMAIL": "test@example.invalid",
            "GIT_COMMITTER_NAME": "test",
            "GIT_COMMITTER_EMAIL": "test@example.invalid",
        },
    )

    def git(*args: str, cwd: Path = work) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, check=True, text=True
        )
        return done.stdout.strip()

    work.mkdir(parents=True)
    git("init", "-q", "-b", "main")
    for relative, data in files.items():
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if data.startswith(b"symlink:"):
            target.symlink_to(data[len(b"symlink:") :].decode())
        else:
            target.write_bytes(data)
    modules = ""
    for path, (url, _commit) in (submodules or {}).items():
        modules += f'[submodule "{path}"]\n\tpath = {path}\n\turl = {url}\n'
    if modules:
        (work / ".gitmodules").write_text(modules)
    git("add", "-A")
    for path, (_url, commit) in (submodules or {}).items():  # after add: it drops absent paths
        git("update-index", "--add", "--cacheinfo", f"160000,{commit},{path}")
    git("commit", "-q", "-m", "test commit")
    sha = git("rev-parse", "HEAD")
    git("clone", "-q", "--bare", str(work), str(root / name), cwd=root)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=root / name)
    return sha
