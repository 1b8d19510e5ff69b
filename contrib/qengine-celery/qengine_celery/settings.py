"""What a worker is configured with: the broker, the result backend, the shared state store and
the engine's options, read from the worker's environment (never from a job or a message).

No secret is read from an environment variable: the database password comes from a file
(``QENGINE_STATE_PASSWORD_FILE``) or libpq's ``PGPASSFILE``, the broker's from
``QENGINE_CELERY_BROKER_PASSWORD_FILE``; URLs carrying a password are refused.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import attrs

from qengine import InvalidInputError
from qengine.runner.pgstore import check_state_url

__all__ = ["WorkerSettings"]


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise InvalidInputError(f"{name} must not be negative")
    return value


def _path(environ: Mapping[str, str], name: str) -> pathlib.Path | None:
    raw = environ.get(name)
    return pathlib.Path(raw) if raw else None


def _no_password(name: str, url: str) -> str:
    if urlsplit(url).password is not None:
        raise InvalidInputError(
            f"{name} must not carry a password",
            hint=f"Put the password in a file and name it with {name.replace('URL', '')}"
            "PASSWORD_FILE.",
        )
    return url


@attrs.frozen(kw_only=True)
class WorkerSettings:
    """A worker's configuration.

    ``lock_wait_seconds``: how long a job waits in the worker for a busy target before the
    task is retried by Celery (after ``lock_retry_delay_seconds``, at most
    ``lock_max_retries`` times; None: without limit). ``visibility_timeout_seconds``: with
    Redis, how long a message taken by a worker stays invisible to others before it is
    delivered again (docs/scale-out.md weighs it against long Terraform applies).
    """

    broker_url: str
    result_backend: str
    state_url: str
    state_password_file: pathlib.Path | None = None
    broker_password_file: pathlib.Path | None = None
    state_dir: pathlib.Path | None = None
    keys_dir: pathlib.Path | None = None
    trust_keys: tuple[pathlib.Path, ...] = ()
    lease_seconds: float = 30.0
    lock_wait_seconds: float = 10.0
    lock_retry_delay_seconds: float = 5.0
    lock_max_retries: int | None = None
    visibility_timeout_seconds: float = 3600.0
    cancel_grace_seconds: float = 30.0
    queue: str = "qengine"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        """Read ``QENGINE_CELERY_*`` and ``QENGINE_STATE_*`` (see docs/scale-out.md)."""
        env = os.environ if environ is None else environ
        missing = [
            name for name in ("QENGINE_CELERY_BROKER_URL", "QENGINE_STATE_URL") if not env.get(name)
        ]
        if missing:
            raise InvalidInputError(
                f"the worker needs {' and '.join(missing)}",
                hint="For example QENGINE_CELERY_BROKER_URL=redis://redis:6379/0 and "
                "QENGINE_STATE_URL=postgresql://qengine@db/qengine?sslmode=verify-full",
            )
        broker = _no_password("QENGINE_CELERY_BROKER_URL", env["QENGINE_CELERY_BROKER_URL"])
        backend = env.get("QENGINE_CELERY_RESULT_BACKEND") or broker
        retries = env.get("QENGINE_LOCK_MAX_RETRIES")
        trust = env.get("QENGINE_TRUST_KEYS", "")
        return cls(
            broker_url=broker,
            result_backend=_no_password("QENGINE_CELERY_RESULT_BACKEND", backend),
            state_url=check_state_url(env["QENGINE_STATE_URL"]),
            state_password_file=_path(env, "QENGINE_STATE_PASSWORD_FILE"),
            broker_password_file=_path(env, "QENGINE_CELERY_BROKER_PASSWORD_FILE"),
            state_dir=_path(env, "QENGINE_STATE_DIR"),
            keys_dir=_path(env, "QENGINE_KEYS_DIR"),
            trust_keys=tuple(pathlib.Path(p) for p in trust.split(os.pathsep) if p),
            lease_seconds=_seconds(env, "QENGINE_STATE_LEASE", 30.0),
            lock_wait_seconds=_seconds(env, "QENGINE_LOCK_WAIT", 10.0),
            lock_retry_delay_seconds=_seconds(env, "QENGINE_LOCK_RETRY_DELAY", 5.0),
            lock_max_retries=int(retries) if retries else None,
            visibility_timeout_seconds=_seconds(env, "QENGINE_VISIBILITY_TIMEOUT", 3600.0),
            cancel_grace_seconds=_seconds(env, "QENGINE_CANCEL_GRACE", 30.0),
            queue=env.get("QENGINE_CELERY_QUEUE") or "qengine",
        )

    def broker_url_with_password(self) -> str:
        """The broker URL with the password file's password, for this process's memory only."""
        return _with_password(self.broker_url, self.broker_password_file)

    def result_backend_with_password(self) -> str:
        """The result backend's URL, with the broker's password when it is the same server."""
        same = urlsplit(self.result_backend).netloc == urlsplit(self.broker_url).netloc
        return _with_password(self.result_backend, self.broker_password_file if same else None)


def _with_password(url: str, password_file: pathlib.Path | None) -> str:
    if password_file is None:
        return url
    try:
        password = password_file.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError):
        raise InvalidInputError(
            f"cannot read the broker password file {password_file}",
            hint="Give a readable file whose first line is the password.",
        ) from None
    from urllib.parse import quote

    parts = urlsplit(url)
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{quote(user)}:{quote(password, safe='')}@{host}{port}"
    return urlunsplit(parts._replace(netloc=netloc))
