"""Short-lived credentials through google-auth against the local stand-ins of STS and IAM
Credentials (no emulator of either exists; see qengine_gcp.sandbox_iam), and their renewal
during a long Terraform run with the real terraform on a local fake-gcs-server behind a relay
that refuses expired tokens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from gcp_support import RecordingRelay, access_for, example
from qengine_gcp.local_gcs import LocalGcs
from qengine_gcp.sandbox_iam import LocalIamCredentials
from qengine_gcp.settings import GcpSettings
from qengine_gcp.spec import StateBucket
from qengine_gcp.state_backend import StateLocation, ensure_state_backend
from qengine_gcp.terraform_run import terraform_for

from qengine.plugin import AuthError, CancelToken, StepContext
from qengine.terraform import ProviderSources, Terraform, Workspace

ACCOUNT = "qengine-deployer@acme-platform-prod.iam.gserviceaccount.com"
SUBJECT = "eyJhbGciOiJSUzI1NiJ9.external-oidc-token-of-the-ci.c2lnbmF0dXJl"
AUDIENCE = (
    "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/"
    "ci-pool/providers/github"
)


def _federated() -> dict[str, Any]:
    document = example()
    document["cluster"]["provider"]["workload_identity"] = {
        "audience": AUDIENCE,
        "subject_token": {"secret": "ci_oidc_token"},
    }
    return document


@pytest.fixture
def google() -> Iterator[LocalIamCredentials]:
    with LocalIamCredentials(subject_token=SUBJECT, account=ACCOUNT) as fakes:
        yield fakes


def _settings(google: LocalIamCredentials, **values: Any) -> GcpSettings:
    return GcpSettings(sts_endpoint=google.url, iam_credentials_endpoint=google.url, **values)


def test_federation_then_impersonation_gives_a_short_lived_token(
    google: LocalIamCredentials,
) -> None:
    access = access_for(
        _federated(), _settings(google, token_seconds=600), {"ci_oidc_token": SUBJECT}
    )
    token, expiry = access.token_and_expiry()
    assert token.reveal().startswith("ya29.impersonated-")
    assert expiry is not None
    (sts, exchange), (iam, generate) = google.calls
    assert (sts, iam) == ("sts", "iam")
    assert exchange["subject_token"] == SUBJECT
    assert exchange["audience"] == AUDIENCE
    assert exchange["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    assert generate["account"] == ACCOUNT
    assert generate["lifetime"] == "600s"
    assert generate["scope"] == ["https://www.googleapis.com/auth/cloud-platform"]
    # A token with time left is reused; nothing is asked again.
    assert access.token().reveal() == token.reveal()
    assert len(google.calls) == 2


def test_a_token_near_its_end_is_renewed(google: LocalIamCredentials) -> None:
    access = access_for(
        _federated(), _settings(google, token_seconds=120), {"ci_oidc_token": SUBJECT}
    )
    first = access.token().reveal()
    # 120 s left is under the five-minute margin: every call renews it.
    assert access.token().reveal() != first
    assert [kind for kind, _ in google.calls].count("iam") == 2


def test_a_refused_subject_token_is_an_auth_error_without_the_token(
    google: LocalIamCredentials,
) -> None:
    wrong = "eyJhbGciOiJSUzI1NiJ9.not-the-right-token.c2ln"
    access = access_for(_federated(), _settings(google), {"ci_oidc_token": wrong})
    with pytest.raises(AuthError) as caught:
        access.token()
    assert wrong not in str(caught.value)
    assert wrong not in (caught.value.hint or "")


def test_an_account_the_identity_may_not_impersonate_is_an_auth_error(
    google: LocalIamCredentials,
) -> None:
    document = _federated()
    document["cluster"]["provider"]["service_account"] = (
        "someone-else@acme-platform-prod.iam.gserviceaccount.com"
    )
    access = access_for(document, _settings(google), {"ci_oidc_token": SUBJECT})
    with pytest.raises(AuthError):
        access.token()


def _context() -> StepContext:
    return StepContext(
        job_id="job-renew",
        organization_id="org",
        target_id="cluster",
        step_id="gcp.apply",
        idempotency_key="k",
        cancel=CancelToken(),
    )


#: An apply that outlasts several tokens: the state is written after the sleep.
SLOW = {
    "terraform": {"backend": {"gcs": {}}},
    "resource": {
        "terraform_data": {
            "slow": {"input": "x", "provisioner": {"local-exec": {"command": "sleep 7"}}}
        }
    },
}


@pytest.mark.slow
def test_a_long_apply_gets_renewed_tokens_from_the_metadata_endpoint(
    google: LocalIamCredentials, local_gcs: LocalGcs
) -> None:
    with RecordingRelay(local_gcs.url, authorize=google.valid) as storage:
        settings = _settings(google, token_seconds=3, storage_endpoint=storage.url)
        access = access_for(_federated(), settings, {"ci_oidc_token": SUBJECT})
        bucket = f"renew-{uuid.uuid4().hex[:10]}"
        location, _ = ensure_state_backend(access, StateBucket(bucket=bucket), cluster_id="c")
        with terraform_for(
            _context(), access, SLOW, location, allow_destructive=False, sources=ProviderSources()
        ) as tf:
            applied = tf.apply(tf.plan())
    assert [change.address for change in applied.changes] == ["terraform_data.slow"]
    assert storage.refused == 0
    used = {header for header in storage.tokens if header}
    assert len(used) >= 3  # the bootstrap's token, then the apply's renewed ones
    written = [path for method, path, _ in storage.requests if method == "POST"]
    assert any("default.tfstate" in path for path in written)


@pytest.mark.slow
def test_the_same_apply_with_one_token_in_the_environment_fails(
    google: LocalIamCredentials, local_gcs: LocalGcs
) -> None:
    # The control: what the endpoint is for. A token handed once expires during the apply,
    # and the state cannot be written.
    with RecordingRelay(local_gcs.url, authorize=google.valid) as storage:
        settings = _settings(google, token_seconds=3, storage_endpoint=storage.url)
        access = access_for(_federated(), settings, {"ci_oidc_token": SUBJECT})
        bucket = f"once-{uuid.uuid4().hex[:10]}"
        ensure_state_backend(access, StateBucket(bucket=bucket), cluster_id="c")
        token = access.token().reveal()
        with Workspace.create() as workspace:
            workspace.write_root_module(SLOW)
            tf = Terraform(
                workspace,
                cancel=CancelToken(),
                credentials={"GOOGLE_OAUTH_ACCESS_TOKEN": token},
            )
            tf.init(
                {
                    "bucket": bucket,
                    "prefix": "qengine/c",
                    "storage_custom_endpoint": f"{storage.url}/storage/v1/",
                }
            )
            with pytest.raises(AuthError) as caught:
                tf.apply(tf.plan())
    assert storage.refused > 0
    assert token not in str(caught.value)


@pytest.mark.slow
def test_credentials_failing_during_a_run_are_an_auth_error(
    google: LocalIamCredentials, local_gcs: LocalGcs
) -> None:
    # Terraform sees only its metadata server's error; the plugin says what failed.
    wrong = "eyJhbGciOiJSUzI1NiJ9.a-refused-subject-token.c2ln"
    settings = _settings(google, storage_endpoint=local_gcs.url)
    access = access_for(_federated(), settings, {"ci_oidc_token": wrong})
    location = StateLocation(bucket=f"never-{uuid.uuid4().hex[:8]}", prefix="qengine/c")
    with pytest.raises(AuthError) as caught:  # noqa: SIM117 (the error leaves the block)
        with terraform_for(
            _context(), access, SLOW, location, allow_destructive=False, sources=ProviderSources()
        ):
            pass
    assert "gave Terraform no token" in str(caught.value)
    assert wrong not in str(caught.value)
