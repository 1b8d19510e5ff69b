"""One job's AWS credentials: a base credential, an assumed role, a session of its own.

The base credential is the pair sealed in the job (``access_key_id``/``secret_access_key``
secret references) or, when the job carries none, the host's default chain (environment,
shared files, instance or container role) as botocore resolves it. With ``role_arn`` the job
assumes that role through STS: ``RoleSessionName`` carries the job id, session tags carry the
organization and the job (transitive, so they follow role chaining), the external id comes
from a sealed secret, and the session lasts at most an hour. The assumed credentials are
:class:`botocore.credentials.RefreshableCredentials`, so they are renewed before they expire
for as long as the job runs.

Everything lives in memory, in a ``botocore.session.Session`` built for the job (never the
global default session, never ``os.environ``). A child process (Terraform) never gets the keys
themselves: it asks a local endpoint (:mod:`qengine_aws.credential_endpoint`) that answers
:meth:`AwsAccess.current_keys` each time, so its credentials are renewed like the job's own.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from qengine.plugin import AuthError
from qengine.secrets.value import SecretValue
from qengine.spec import InfrastructureJob, SecretRef
from qengine_aws.errors import translated, unless_absent
from qengine_aws.settings import AwsSettings, settings_of
from qengine_aws.spec import AwsProvider

if TYPE_CHECKING:
    from qengine.plugin import JobServices

SecretOpener = Callable[[str], SecretValue]
T = TypeVar("T")

TAG_ORGANIZATION = "qengine:organization"
TAG_JOB = "qengine:job"
_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")
_TAG_VALUE_CHARS = re.compile(r"[^\w.:/=+\-@ ]")


@attrs.frozen(kw_only=True)
class AccessKeys:
    """One consistent set of AWS keys, as handed out at one moment.

    ``expires_at`` (timezone-aware) is when AWS stops accepting them, or None for keys that
    do not expire (a sealed or host access key pair).
    """

    access_key_id: str
    secret_access_key: str = attrs.field(repr=False)
    session_token: str | None = attrs.field(default=None, repr=False)
    expires_at: datetime | None = None


@attrs.frozen(kw_only=True)
class CredentialRequest:
    """What the job says about its AWS identity (secret references, never values)."""

    region: str
    job_id: str
    organization_id: str
    role_arn: str | None = None
    external_id: SecretRef | None = None
    access_key_id: SecretRef | None = None
    secret_access_key: SecretRef | None = None

    @classmethod
    def of(cls, job: InfrastructureJob) -> CredentialRequest:
        """The request of an AWS infrastructure job."""
        provider = job.cluster.provider
        if not isinstance(provider, AwsProvider):
            raise TypeError("not an AWS infrastructure job")
        return cls(
            region=provider.region,
            job_id=job.id,
            organization_id=job.organization.id,
            role_arn=provider.role_arn,
            external_id=provider.external_id,
            access_key_id=provider.access_key_id,
            secret_access_key=provider.secret_access_key,
        )


def access_for(services: JobServices, region: str) -> AwsAccess:
    """A job's access to AWS in ``region``, for the registry and DNS providers of its sections.

    The identity is the job's AWS cluster's (its role, external id and sealed keys) when the
    job is an AWS infrastructure job, else the base credential alone (the host's default
    chain, or ``AwsSettings.sandbox_credentials``). The settings are the engine's AWS
    settings. Building it opens no secret and sends no request.
    """
    job = services.job
    if isinstance(job, InfrastructureJob) and isinstance(job.cluster.provider, AwsProvider):
        request = attrs.evolve(CredentialRequest.of(job), region=region)
    else:
        request = CredentialRequest(
            region=region, job_id=job.id, organization_id=job.organization.id
        )
    return AwsAccess(request, open_secret=services.secrets.open, settings=settings_of(services))


def session_name(job_id: str) -> str:
    """An STS ``RoleSessionName`` for ``job_id``: STS's characters only, 2 to 64 of them."""
    return ("qengine-" + _SESSION_NAME_CHARS.sub("-", job_id))[:64]


def session_tags(request: CredentialRequest) -> list[dict[str, str]]:
    """The STS session tags of a job: its organization and its id (values at most 256)."""
    return [
        {"Key": TAG_ORGANIZATION, "Value": _tag_value(request.organization_id)},
        {"Key": TAG_JOB, "Value": _tag_value(request.job_id)},
    ]


def _tag_value(value: str) -> str:
    return _TAG_VALUE_CHARS.sub("-", value)[:256]


def assume_role_params(
    request: CredentialRequest, external_id: str | None, seconds: int
) -> dict[str, Any]:
    """The AssumeRole request of a job (``external_id`` already opened)."""
    params: dict[str, Any] = {
        "RoleArn": request.role_arn,
        "RoleSessionName": session_name(request.job_id),
        "DurationSeconds": seconds,
        "Tags": session_tags(request),
        "TransitiveTagKeys": [TAG_ORGANIZATION, TAG_JOB],
    }
    if external_id is not None:
        params["ExternalId"] = external_id
    return params


class AwsAccess:
    """A job's way into AWS: one boto3 session with its own, refreshable credentials.

    Build it inside a step's ``run`` (it opens secrets). Thread-safe: the session is built
    once, on first use; botocore's refreshable credentials lock their own refresh.
    """

    def __init__(
        self,
        request: CredentialRequest,
        *,
        open_secret: SecretOpener | None,
        settings: AwsSettings | None = None,
    ) -> None:
        self.request = request
        self.settings = settings or AwsSettings()
        self._open_secret = open_secret
        self._lock = threading.Lock()
        self._client_lock = threading.Lock()
        self._session: Any = None
        self._hidden: set[str] = set()
        # Expiry of each assumed key id, so a hand-out can say when its keys stop working.
        self._expiry: dict[str, datetime] = {}
        self._hidden_lock = threading.Lock()

    @property
    def region(self) -> str:
        """The job's region."""
        return self.request.region

    def session(self) -> Any:
        """The job's ``boto3.session.Session`` (built on first use)."""
        with self._lock:
            if self._session is None:
                self._session = self._build()
            return self._session

    def client(self, service: str, *, region: str | None = None) -> Any:
        """A boto3 client of ``service`` in the job's region, at the configured endpoint."""
        session = self.session()
        # A boto3 session may be shared by threads, but not while it makes clients.
        with self._client_lock:
            return session.client(
                service, region_name=region or self.region, endpoint_url=self.settings.endpoint_url
            )

    def call(self, action: str) -> AbstractContextManager[None]:
        """A context that translates AWS errors of ``action``, masking the job's credentials."""
        return translated(action, hide=self.hidden())

    def unless_absent(self, action: str, fn: Callable[[], T], *absent: str) -> T | None:
        """``fn()``, or None when AWS answers one of the ``absent`` error codes."""
        return unless_absent(fn, action, absent=absent, hide=self.hidden())

    def hidden(self) -> tuple[str, ...]:
        """Every credential value this access has held (to mask in messages)."""
        with self._hidden_lock:
            return tuple(self._hidden)

    def current_keys(self) -> AccessKeys:
        """The job's keys now, renewed first when they are about to expire.

        botocore renews assumed credentials with less than 15 minutes left (and must, with
        less than 10), so keys handed out here stay valid for at least 10 minutes.
        """
        with self.call("reading the job's AWS credentials"):
            frozen = self._credentials().get_frozen_credentials()
        self._remember(frozen.access_key, frozen.secret_key, frozen.token)
        with self._hidden_lock:
            expires_at = self._expiry.get(frozen.access_key)
        return AccessKeys(
            access_key_id=frozen.access_key,
            secret_access_key=frozen.secret_key,
            session_token=frozen.token or None,
            expires_at=expires_at,
        )

    def _credentials(self) -> Any:
        credentials = self.session().get_credentials()
        if credentials is None:
            raise AuthError(
                "no AWS credentials were found for the job",
                hint="Seal access_key_id and secret_access_key in the job, or give the host "
                "a default credential (environment, shared file or instance role).",
            )
        return credentials

    def _remember(self, *values: str | None) -> None:
        with self._hidden_lock:
            self._hidden.update(v for v in values if v)

    def _build(self) -> Any:
        import boto3.session  # type: ignore[import-untyped]

        base = self._base_session()
        core = base if self.request.role_arn is None else self._role_session(base)
        return boto3.session.Session(botocore_session=core, region_name=self.region)

    def _base_session(self) -> Any:
        import botocore.session  # type: ignore[import-untyped]

        core = botocore.session.Session()
        core.set_config_variable("region", self.region)
        pair = self._sealed_pair() or self.settings.sandbox_credentials
        if pair is not None:
            core.set_credentials(pair[0], pair[1])
        return core

    def _sealed_pair(self) -> tuple[str, str] | None:
        if self.request.access_key_id is None or self.request.secret_access_key is None:
            return None
        key_id = self._open(self.request.access_key_id)
        secret = self._open(self.request.secret_access_key)
        self._remember(key_id, secret)
        return key_id, secret

    def _open(self, ref: SecretRef) -> str:
        if self._open_secret is None:
            raise AuthError(
                f"the job's AWS credential {ref.secret!r} is sealed but no secrets can be opened"
            )
        return self._open_secret(ref.secret).reveal()

    def _role_session(self, base: Any) -> Any:
        import botocore.credentials  # type: ignore[import-untyped]
        import botocore.session

        external_id = (
            None if self.request.external_id is None else self._open(self.request.external_id)
        )
        if external_id:
            self._remember(external_id)
        params = assume_role_params(self.request, external_id, self.settings.session_seconds)
        sts = base.create_client(
            "sts", region_name=self.region, endpoint_url=self.settings.endpoint_url
        )

        def refresh() -> dict[str, str]:
            return self._assume(sts, params)

        credentials = botocore.credentials.RefreshableCredentials.create_from_metadata(
            metadata=refresh(), refresh_using=refresh, method="sts-assume-role"
        )
        core = botocore.session.Session()
        core.set_config_variable("region", self.region)
        core.register_component("credential_provider", _Resolver(credentials))
        return core

    def _assume(self, sts: Any, params: dict[str, Any]) -> dict[str, str]:
        with translated(f"assuming the role {params['RoleArn']}", hide=self.hidden()):
            answer = sts.assume_role(**params)["Credentials"]
        self._remember(answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"])
        with self._hidden_lock:
            self._expiry[answer["AccessKeyId"]] = answer["Expiration"]
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": answer["Expiration"].isoformat(),
        }


class _Resolver:
    """A credential resolver that always answers the job's refreshable credentials."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials

    def load_credentials(self) -> Any:
        return self._credentials
