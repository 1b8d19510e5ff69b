"""Engine-side settings of the AWS plugin: what a host or a test configures, never a job.

A job spec names a region and credentials; where the AWS APIs answer is the engine's business.
``endpoint_url`` points every client at one endpoint (a moto server in tests and in the
sandbox); it is deliberately absent from the job spec so a job cannot redirect its own
credentials to a host of its choosing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import SandboxCluster
from qengine.retry import RetryPolicy

if TYPE_CHECKING:
    from qengine.plugin import JobServices

#: The plugin's name: the key of its settings among the engine's.
PLUGIN = "aws"

#: STS refuses session durations outside 15 minutes to 1 hour for chained roles.
MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 3600
#: The Go SDK (Terraform) asks again 5 minutes before the expiration it was given; a longer
#: lease lets it keep keys that do not expire for 10 minutes between two requests.
DEFAULT_LEASE_SECONDS = 900.0
MAX_LEASE_SECONDS = 3600.0


@attrs.frozen(kw_only=True)
class KmsSettings:
    """The engine's ``aws-kms`` key provider.

    ``key_id``: the KMS key new data keys are wrapped with (an ARN, a key id or
    ``alias/...``); None for an engine that only opens jobs sealed elsewhere (a wrapped key
    names its key's ARN, which names its region). ``region``: the key's region, needed when
    ``key_id`` is not an ARN.
    """

    key_id: str | None = None
    region: str | None = None


@attrs.frozen(kw_only=True)
class AwsSettings:
    """How the plugin reaches AWS.

    ``endpoint_url``: one endpoint for every service (tests, sandbox), or None for AWS itself.
    ``session_seconds``: the lifetime asked of STS for an assumed role, 900 to 3600.
    ``credential_lease_seconds``: the longest expiration the credential endpoint announces to
    a child process (Terraform), so that it comes back even for keys that never expire; keys
    that expire sooner (assumed roles) are announced with their own expiration.
    ``poll``: the bounded wait used for Route53 changes (``retry_after`` is the poll interval).
    ``poll_interval``: seconds between two polls of a pending change.
    ``sandbox``: set for a sandbox run (``endpoint_url`` is then a moto server): where the
    stand-in cluster's API answers (the session's cluster); Terraform applies the stand-in
    blueprint. ``sandbox_credentials``: the base credential when the job seals none, instead
    of the host's default chain (moto's fake key pair in the sandbox and in tests).
    ``kms``: the ``aws-kms`` key provider's key (see :class:`KmsSettings`).
    ``job_lease_seconds``: how long an infrastructure job's lease beside the state lasts
    unrenewed (see :mod:`qengine_aws.lease`).
    """

    endpoint_url: str | None = None
    session_seconds: int = attrs.field(
        default=MAX_SESSION_SECONDS,
        validator=[
            attrs.validators.ge(MIN_SESSION_SECONDS),
            attrs.validators.le(MAX_SESSION_SECONDS),
        ],
    )
    credential_lease_seconds: float = attrs.field(
        default=DEFAULT_LEASE_SECONDS,
        validator=[attrs.validators.gt(0), attrs.validators.le(MAX_LEASE_SECONDS)],
    )
    poll: RetryPolicy = attrs.field(
        factory=lambda: RetryPolicy(max_attempts=120, max_elapsed_seconds=600.0)
    )
    poll_interval: float = 5.0
    sandbox: SandboxCluster | None = None
    sandbox_credentials: tuple[str, str] | None = attrs.field(default=None, repr=False)
    kms: KmsSettings = attrs.field(factory=KmsSettings)
    job_lease_seconds: float = attrs.field(default=60.0, validator=attrs.validators.ge(3.0))


def settings_of(services: JobServices) -> AwsSettings:
    """The AWS settings a host gave this job's services, or the defaults (AWS itself).

    Read as ``services.settings_for("aws", AwsSettings)`` (``Engine(settings=...)``, or what
    the sandbox hook returned), so a host or a sandbox run can point the plugin at moto.
    """
    return services.settings_for(PLUGIN, AwsSettings) or AwsSettings()


def engine_settings_of(settings: Mapping[str, object]) -> AwsSettings:
    """The AWS settings among an engine's per-plugin settings, or the defaults."""
    found = settings.get(PLUGIN)
    return found if isinstance(found, AwsSettings) else AwsSettings()
