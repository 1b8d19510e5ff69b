"""A local endpoint that hands a job's current AWS credentials to its Terraform process.

The AWS SDKs (Go's, which Terraform and its AWS provider use, as well as botocore) have a
*container credential provider*: given ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and
``AWS_CONTAINER_AUTHORIZATION_TOKEN``, they ``GET`` that URI with the token as the
``Authorization`` header, and read ``AccessKeyId``, ``SecretAccessKey``, ``Token`` and
``Expiration`` from the JSON answer, and ask again some minutes before that expiration. So a
child process pointed at this endpoint never holds the keys in its environment, and gets the
job's renewed keys for as long as it runs, however long that is.

One endpoint serves one run: :class:`CredentialEndpoint` is a context manager that starts an
HTTP server on 127.0.0.1 (a free port), on its own thread, under one unguessable path, and
stops it on exit (the server is :class:`qengine.localendpoint.LocalEndpoint`). A request
without the per-run token is refused (401), with a wrong one too (403), any other path or
method is 404; no refusal says why, and nothing is logged.

Every answer is fresh from the credential source (``AwsAccess.current_keys``: botocore renews
assumed credentials there, and hands them out with at least 10 minutes, usually 15, left).
The ``Expiration`` announced is the keys' own, but never more than ``lease_seconds`` ahead, so
that a child comes back even for keys that do not expire. The Go SDK asks again 5 minutes
before the expiration it was given (its container provider's expiry window); keys announced
with less than that left are fetched again on each request, which is correct but chatty.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import Message
from types import TracebackType

import attrs

from qengine.localendpoint import METHODS, LocalEndpoint, Reply, same_secret, secret_path
from qengine.plugin import InfrastructureError, QengineError
from qengine_aws.credentials import AccessKeys
from qengine_aws.settings import DEFAULT_LEASE_SECONDS, MAX_LEASE_SECONDS

CredentialSource = Callable[[], AccessKeys]

#: Where the SDKs would otherwise read profiles and keys (``AWS_CONFIG_FILE``...).
NO_FILE = "/dev/null"


@attrs.frozen(kw_only=True)
class ChildEnvironment:
    """The variables of a child process that gets its AWS keys from the endpoint.

    ``secret`` holds the authorization token (to pass as the Terraform driver's
    ``credentials=``, which masks it); ``plain`` the rest (its ``env=``).
    """

    secret: dict[str, str] = attrs.field(repr=False)
    plain: dict[str, str]


class CredentialEndpoint(LocalEndpoint):
    """The credential endpoint of one run; use it as a context manager.

    ``url`` is set once entered. ``fetches`` counts the answers that carried credentials;
    ``failure`` is the source's error since its last success (the child only hears that keys
    were unavailable). When the ``with`` block ends in an :class:`InfrastructureError` (a
    failed terraform command) while such a failure stands and is a :class:`QengineError` (an
    ``AuthError`` from STS...), that failure is raised in its place, from it: it names the
    cause and carries the hint. Thread-safe; not reusable.
    """

    def __init__(
        self, source: CredentialSource, *, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> None:
        if not 0 < lease_seconds <= MAX_LEASE_SECONDS:
            raise ValueError(f"lease_seconds must be in (0, {MAX_LEASE_SECONDS}]")
        super().__init__(self._reply, name="credential endpoint", methods=METHODS)
        self.source = source
        self.lease = timedelta(seconds=lease_seconds)
        self.token = secrets.token_urlsafe(32)
        self.path = "/" + secret_path()
        self._count_lock = threading.Lock()
        self._fetches = 0
        self._failure: Exception | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/<path>`` (only while the endpoint runs)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def fetches(self) -> int:
        """How many times credentials were handed out."""
        with self._count_lock:
            return self._fetches

    @property
    def failure(self) -> Exception | None:
        """The credential source's error since its last success, if any."""
        with self._count_lock:
            return self._failure

    def child_environment(self, region: str) -> ChildEnvironment:
        """The ``AWS_*`` variables that send a child's SDK here, and nowhere else, for keys.

        No access key variables; no instance metadata; the shared config and credentials
        files are empty, so no profile on the host can take precedence.
        """
        return ChildEnvironment(
            secret={"AWS_CONTAINER_AUTHORIZATION_TOKEN": self.token},
            plain={
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.url,
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": NO_FILE,
                "AWS_SHARED_CREDENTIALS_FILE": NO_FILE,
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
            },
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        super().__exit__(exc_type, exc, tb)
        cause = self.failure
        # Only a failure of the infrastructure can be the keys' doing; a cancellation, a
        # locked state or a refused plan stays what it is.
        if isinstance(exc, InfrastructureError) and isinstance(cause, QengineError):
            raise cause from exc

    def _reply(self, method: str, path: str, headers: Message) -> Reply:
        if method != "GET":
            return Reply(404)
        return Reply(*self.answer(path, headers.get("Authorization")))

    def answer(self, path: str, authorization: str | None) -> tuple[int, bytes]:
        """The status and body of a ``GET`` of ``path`` with that ``Authorization`` header."""
        if not same_secret(path, self.path):
            return 404, b""
        if authorization is None:
            return 401, b""
        if not same_secret(authorization, self.token):
            return 403, b""
        try:
            keys = self.source()
        except Exception as exc:
            # The SDK shows this message in its error; the cause stays here for the job.
            with self._count_lock:
                self._failure = exc
            return 500, _FAILED
        with self._count_lock:
            self._fetches += 1
            self._failure = None
        return 200, json.dumps(self._document(keys)).encode()

    def _document(self, keys: AccessKeys) -> dict[str, str]:
        expires = datetime.now(UTC) + self.lease
        if keys.expires_at is not None:
            expires = min(expires, keys.expires_at.astimezone(UTC))
        document = {
            "AccessKeyId": keys.access_key_id,
            "SecretAccessKey": keys.secret_access_key,
            "Expiration": expires.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        if keys.session_token:
            document["Token"] = keys.session_token
        return document


_FAILED = json.dumps(
    {"code": "CredentialsUnavailable", "message": "the job's AWS credentials could not be read"}
).encode()
