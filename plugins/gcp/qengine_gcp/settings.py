"""Engine-side settings of the GCP plugin: what a host or a test configures, never a job.

A job names a project, a region and whom to impersonate; where Google's APIs answer is the
engine's business. The endpoints point the clients at local servers (the sandbox, tests); they
are deliberately absent from the job spec, so a job cannot send its credentials to a host of
its choosing.
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
PLUGIN = "gcp"
#: IAM Credentials gives at most an hour unless an organization policy allows twelve.
MIN_TOKEN_SECONDS = 1
MAX_TOKEN_SECONDS = 3600


@attrs.frozen(kw_only=True)
class GcpSettings:
    """How the plugin reaches Google Cloud.

    ``storage_endpoint``: the Cloud Storage JSON API's root (``http://127.0.0.1:PORT`` for a
    local fake-gcs-server), or None for Google. ``container_endpoint``: the Container API's
    root, or None. ``iam_credentials_endpoint`` and ``sts_endpoint``: IAM Credentials'
    ``generateAccessToken`` host and STS's token URL, or None for Google's.
    ``kms_endpoint``: Cloud KMS's root, or None for Google's. ``kms_key``: the CryptoKey
    (``projects/P/locations/L/keyRings/R/cryptoKeys/K``) the ``gcp-kms`` key provider wraps
    new data keys with; None for an engine that only opens jobs sealed elsewhere.
    ``token_seconds``: the lifetime asked for an impersonated token (at most 3600).
    ``token_lease_seconds``: the longest ``expires_in`` the run's metadata endpoint announces
    to Terraform, so that it comes back even for a token that never expires.
    ``lock_timeout``: seconds a Terraform run waits for the state lock (0: fails at once).
    ``job_lease_seconds``: how long a job's lease beside the state lasts unrenewed (see
    :mod:`qengine_gcp.lease`).
    ``poll_interval``: seconds between two reads of a pending GKE operation or DNS change;
    ``poll``: the bounded wait for them (the one retry policy; ``poll_interval`` is its
    ``retry_after``). ``dns_endpoint``: Cloud DNS's root, or None for Google's.
    ``artifact_registry_endpoint``: Artifact Registry's API root, or None for Google's.
    ``artifact_registry_docker_host``: the ``host:port`` of Artifact Registry's Docker endpoint
    in place of ``<location>-docker.pkg.dev`` (the sandbox's local one), or None.
    ``sandbox``: set for a sandbox run: where the stand-in cluster's API answers; Terraform
    applies the stand-in root module. ``sandbox_token``: the access token of a sandbox run
    (no Google credential exists there).
    """

    storage_endpoint: str | None = None
    container_endpoint: str | None = None
    iam_credentials_endpoint: str | None = None
    sts_endpoint: str | None = None
    kms_endpoint: str | None = None
    kms_key: str | None = None
    token_seconds: int = attrs.field(
        default=MAX_TOKEN_SECONDS,
        validator=[attrs.validators.ge(MIN_TOKEN_SECONDS), attrs.validators.le(MAX_TOKEN_SECONDS)],
    )
    token_lease_seconds: float = attrs.field(default=900.0, validator=attrs.validators.gt(0))
    lock_timeout: float = 0.0
    job_lease_seconds: float = attrs.field(default=60.0, validator=attrs.validators.ge(3.0))
    poll_interval: float = 5.0
    poll: RetryPolicy = attrs.field(
        factory=lambda: RetryPolicy(max_attempts=720, max_elapsed_seconds=3600.0)
    )
    dns_endpoint: str | None = None
    artifact_registry_endpoint: str | None = None
    artifact_registry_docker_host: str | None = None
    sandbox: SandboxCluster | None = None
    sandbox_token: str | None = attrs.field(default=None, repr=False)


def settings_of(services: JobServices) -> GcpSettings:
    """The GCP settings a host gave this job's services, or the defaults (Google itself)."""
    return services.settings_for(PLUGIN, GcpSettings) or GcpSettings()


def engine_settings_of(settings: Mapping[str, object]) -> GcpSettings:
    """The GCP settings among an engine's per-plugin settings, or the defaults."""
    found = settings.get(PLUGIN)
    return found if isinstance(found, GcpSettings) else GcpSettings()
