"""Short-lived Google credentials of one job, and the translation of Google's errors.

The engine never reads or writes a key file. A job's credentials are built, when a step first
needs them, as:

- the source: the host's Application Default Credentials, or, when the job gives
  ``workload_identity``, an external token (a sealed secret, opened in memory) exchanged at
  Google's STS;
- then, when the job names ``service_account``, IAM Credentials ``generateAccessToken`` for
  that account (through ``delegates``), for ``GcpSettings.token_seconds`` at most.

google-auth refreshes them when they expire, so a client holding them renews its token for as
long as a run lasts. A sandbox run's source credential is the settings' ``sandbox_token``
(the host's, there): used as it is, unless the identity names ``service_account`` and the
settings point at an IAM Credentials stand-in, which then issues the impersonated tokens as
Google would.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import attrs

from qengine.plugin import (
    AuthError,
    ConflictError,
    InfrastructureError,
    QuotaError,
    SecretValue,
    TransientError,
)
from qengine.spec import InfrastructureJob
from qengine_gcp.settings import GcpSettings
from qengine_gcp.spec import GcpIdentity, GcpProvider

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

SecretOpener = Callable[[str], SecretValue]
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
#: A token is renewed when it has less than this left (google-auth's own margin is smaller).
RENEW_MARGIN_SECONDS = 300


@attrs.frozen(kw_only=True)
class GcpAccess:
    """How one job reaches Google Cloud: its identity (a section of the job), a secret
    opener, the settings.

    Nothing is called until :meth:`credentials` or :meth:`token` is.
    """

    identity: GcpIdentity
    open_secret: SecretOpener = attrs.field(repr=False)
    settings: GcpSettings
    _cache: dict[str, Any] = attrs.field(factory=dict, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    @classmethod
    def of(
        cls, job: InfrastructureJob, open_secret: SecretOpener, settings: GcpSettings
    ) -> GcpAccess:
        """The access of ``job`` (its cluster's provider must be a :class:`GcpProvider`)."""
        provider = job.cluster.provider
        assert isinstance(provider, GcpProvider)
        return cls(identity=provider, open_secret=open_secret, settings=settings)

    @property
    def provider(self) -> GcpProvider:
        """The cluster's ``gcp`` section (TypeError for an access built from another)."""
        if not isinstance(self.identity, GcpProvider):
            raise TypeError("this access is not a GKE cluster's")
        return self.identity

    def credentials(self) -> Credentials:
        """The job's google-auth credentials (built once; they renew themselves)."""
        found = self._cache.get("credentials")
        if found is None:
            found = self._build()
            self._cache["credentials"] = found
        return found

    def token(self) -> SecretValue:
        """A current access token, renewed when it has less than five minutes left."""
        return self.token_and_expiry()[0]

    def token_and_expiry(self) -> tuple[SecretValue, datetime.datetime | None]:
        """A current access token and when it expires (None: unknown, a sandbox's)."""
        if self.settings.sandbox_token is not None and not self._impersonates():
            return SecretValue(self.settings.sandbox_token), None
        from google.auth.transport.requests import Request

        credentials = self.credentials()
        with self._lock:
            expiry = _aware(getattr(credentials, "expiry", None))
            margin = datetime.timedelta(seconds=RENEW_MARGIN_SECONDS)
            now = datetime.datetime.now(datetime.UTC)
            if not credentials.token or expiry is None or expiry - now < margin:
                with self.call("getting a short-lived access token"):
                    credentials.refresh(Request())  # type: ignore[no-untyped-call]
                expiry = _aware(getattr(credentials, "expiry", None))
            return SecretValue(str(credentials.token)), expiry

    def _impersonates(self) -> bool:
        """Whether the credentials go through IAM Credentials: always with a service account,
        in a sandbox only when the settings point at its stand-in."""
        if self.identity.service_account is None:
            return False
        return (
            self.settings.sandbox_token is None
            or self.settings.iam_credentials_endpoint is not None
        )

    def _build(self) -> Credentials:
        if self.settings.sandbox_token is not None:
            from google.oauth2.credentials import Credentials as TokenCredentials

            source: Credentials = TokenCredentials(token=self.settings.sandbox_token)  # type: ignore[no-untyped-call]
            if not self._impersonates():
                return source
        else:
            source = self._source()
        account = self.identity.service_account
        if account is None:
            return source
        from google.auth import impersonated_credentials

        return impersonated_credentials.Credentials(  # type: ignore[no-untyped-call]
            source_credentials=source,
            target_principal=account,
            target_scopes=[CLOUD_PLATFORM],
            delegates=list(self.identity.delegates) or None,
            lifetime=self.settings.token_seconds,
            iam_endpoint_override=self._iam_endpoint(account),
        )

    def _iam_endpoint(self, account: str) -> str | None:
        base = self.settings.iam_credentials_endpoint
        if base is None:
            return None
        return f"{base.rstrip('/')}/v1/projects/-/serviceAccounts/{account}:generateAccessToken"

    def _source(self) -> Credentials:
        federation = self.identity.workload_identity
        if federation is None:
            import google.auth

            with self.call("reading the host's application default credentials"):
                source, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
            return source
        from google.auth import identity_pool

        opener, name = self.open_secret, federation.subject_token.secret

        class _Sealed(identity_pool.SubjectTokenSupplier):
            def get_subject_token(self, context: object, request: object) -> str:
                return opener(name).reveal()

        kwargs: dict[str, Any] = {"subject_token_supplier": _Sealed(), "scopes": [CLOUD_PLATFORM]}
        if self.settings.sts_endpoint is not None:
            kwargs["token_url"] = f"{self.settings.sts_endpoint.rstrip('/')}/v1/token"
        return identity_pool.Credentials(  # type: ignore[no-untyped-call]
            federation.audience, federation.subject_token_type, **kwargs
        )

    @contextmanager
    def call(self, doing: str) -> Iterator[None]:
        """Translate the Google errors raised while ``doing`` into the qengine tree."""
        try:
            yield
        except Exception as exc:
            translated = translate(exc, doing)
            if translated is None:
                raise
            raise translated from exc


def _aware(expiry: datetime.datetime | None) -> datetime.datetime | None:
    # google-auth keeps expiries as naive UTC datetimes.
    if expiry is None or expiry.tzinfo is not None:
        return expiry
    return expiry.replace(tzinfo=datetime.UTC)


def translate(exc: BaseException, doing: str) -> Exception | None:
    """The qengine error for a Google client error, or None when ``exc`` is not one."""
    module = type(exc).__module__
    if module.startswith("google.auth"):
        return AuthError(
            f"Google refused the credentials while {doing}: {type(exc).__name__}",
            hint="Check that the host's credentials may impersonate the job's service account"
            " (roles/iam.serviceAccountTokenCreator) or that the federated token is valid.",
        )
    code = getattr(exc, "code", None)
    if not module.startswith("google.") or not isinstance(code, int):
        return None
    message = f"Google Cloud refused while {doing}: {code} {getattr(exc, 'message', '')}".strip()
    if code in (401, 403):
        return AuthError(
            message, hint="Grant the job's service account the roles docs/gcp.md lists."
        )
    if code == 409:
        return ConflictError(message)
    if code == 429 and "quota" in message.lower():
        return QuotaError(message)
    if code == 429 or code >= 500:
        return TransientError(message)
    return InfrastructureError(message)
