"""Credentials against moto's STS: assume-role parameters, refresh, preflight, leaks."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_support import ACCOUNT, FAKE_KEY_ID, FAKE_SECRET, REGION, secrets_of
from qengine_aws import preflight
from qengine_aws.credentials import (
    TAG_JOB,
    TAG_ORGANIZATION,
    AwsAccess,
    CredentialRequest,
    session_name,
)
from qengine_aws.settings import AwsSettings

from qengine import AuthError, InvalidInputError
from qengine.spec import SecretRef

ROLE = f"arn:aws:iam::{ACCOUNT}:role/qengine-deployer"
EXTERNAL_ID = "ext-id-7c1f0b2e-do-not-show"


def _role_access(settings: AwsSettings, job_id: str = "job-42") -> _RecordingAccess:
    request = CredentialRequest(
        region=REGION,
        job_id=job_id,
        organization_id="org-a",
        role_arn=ROLE,
        external_id=SecretRef(secret="ext"),
        access_key_id=SecretRef(secret="key_id"),
        secret_access_key=SecretRef(secret="secret_key"),
    )
    opener = secrets_of({"key_id": FAKE_KEY_ID, "secret_key": FAKE_SECRET, "ext": EXTERNAL_ID})
    return _RecordingAccess(request, open_secret=opener, settings=settings)


class _RecordingAccess(AwsAccess):
    """An access whose base session records the AssumeRole parameters botocore sends.

    A botocore event handler on the real client, not a mock: the call still reaches moto.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assume_role_calls: list[dict[str, Any]] = []

    def _base_session(self) -> Any:
        core = super()._base_session()
        core.register("provide-client-params.sts.AssumeRole", self._record)
        return core

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.assume_role_calls.append(dict(params))


def _moto_assumed_roles() -> list[Any]:
    """What moto's STS recorded (the server runs in this process)."""
    from moto.sts.models import sts_backends

    return list(sts_backends[ACCOUNT]["aws"].assumed_roles)


def test_assume_role_sends_session_name_tags_external_id_and_duration(
    settings: AwsSettings,
) -> None:
    access = _role_access(settings, job_id="job 42/with:odd*chars")
    identity = preflight.caller_identity(access)
    assert identity.account == ACCOUNT
    name = session_name("job 42/with:odd*chars")
    assert identity.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/qengine-deployer/{name}"
    (params,) = access.assume_role_calls
    (recorded,) = _moto_assumed_roles()
    assert recorded.external_id == EXTERNAL_ID
    assert recorded.session_name == name
    assert params["RoleSessionName"] == "qengine-job-42-with-odd-chars"
    assert params["ExternalId"] == EXTERNAL_ID
    assert params["DurationSeconds"] == 3600
    assert {t["Key"]: t["Value"] for t in params["Tags"]} == {
        TAG_ORGANIZATION: "org-a",
        TAG_JOB: "job 42/with:odd-chars",
    }
    assert set(params["TransitiveTagKeys"]) == {TAG_ORGANIZATION, TAG_JOB}


def test_session_name_respects_sts_limits() -> None:
    name = session_name("x" * 200)
    assert len(name) == 64
    assert session_name("a b") == "qengine-a-b"


def test_assumed_credentials_are_temporary_and_refreshed(moto: str) -> None:
    # With the shortest session STS allows, botocore is always inside its refresh window,
    # so each hand-out must be a fresh AssumeRole.
    access = _role_access(AwsSettings(endpoint_url=moto, session_seconds=900))
    first = access.current_keys()
    second = access.current_keys()
    assert first.access_key_id != FAKE_KEY_ID
    assert first.session_token
    assert first.access_key_id != second.access_key_id
    assert first.expires_at is not None
    assert second.expires_at is not None
    left = first.expires_at - datetime.now(UTC)
    assert timedelta(seconds=890) < left <= timedelta(seconds=900)


def test_an_hour_long_session_is_reused(settings: AwsSettings) -> None:
    access = _role_access(settings)
    assert access.current_keys() == access.current_keys()
    assert len(access.assume_role_calls) == 1


def test_handing_out_keys_leaves_environ_untouched_and_masks_them(
    settings: AwsSettings,
) -> None:
    before = dict(os.environ)
    access = _role_access(settings)
    keys = access.current_keys()
    assert keys.session_token is not None
    secrets = {keys.secret_access_key, keys.session_token, FAKE_SECRET, EXTERNAL_ID}
    assert dict(os.environ) == before
    assert not any(s in v for s in secrets for v in os.environ.values())
    assert secrets <= set(access.hidden())
    assert keys.secret_access_key not in repr(keys)
    assert keys.session_token not in repr(keys)


def test_no_role_uses_the_sealed_base_credential(access: AwsAccess) -> None:
    keys = access.current_keys()
    assert keys.access_key_id == FAKE_KEY_ID
    assert keys.session_token is None
    assert keys.expires_at is None


def test_refused_credentials_are_an_auth_error_with_a_hint(auth_enforced: str) -> None:
    settings = AwsSettings(endpoint_url=auth_enforced)
    with pytest.raises(AuthError) as caught:
        preflight.caller_identity(_bad_key_access(settings))
    message = str(caught.value)
    assert "InvalidClientTokenId" in message
    assert "access_key_id" in caught.value.hint
    assert FAKE_SECRET not in message + caught.value.hint
    assert "AKIA0000000000000000" not in message


def test_refused_role_is_an_auth_error(auth_enforced: str) -> None:
    with pytest.raises(AuthError) as caught:
        preflight.caller_identity(_role_access(AwsSettings(endpoint_url=auth_enforced)))
    assert "assuming the role" in str(caught.value)
    assert EXTERNAL_ID not in str(caught.value)


def _bad_key_access(settings: AwsSettings) -> AwsAccess:
    request = CredentialRequest(
        region=REGION,
        job_id="job-1",
        organization_id="org-a",
        access_key_id=SecretRef(secret="key_id"),
        secret_access_key=SecretRef(secret="secret_key"),
    )
    return AwsAccess(
        request,
        open_secret=secrets_of({"key_id": "AKIA0000000000000000", "secret_key": FAKE_SECRET}),
        settings=settings,
    )


def test_an_unknown_region_is_refused_at_preflight(moto: str) -> None:
    request = CredentialRequest(
        region="moon-1",
        job_id="job-1",
        organization_id="org-a",
        access_key_id=SecretRef(secret="key_id"),
        secret_access_key=SecretRef(secret="secret_key"),
    )
    access = AwsAccess(
        request,
        open_secret=secrets_of({"key_id": FAKE_KEY_ID, "secret_key": FAKE_SECRET}),
        settings=AwsSettings(endpoint_url=moto),
    )
    with pytest.raises(InvalidInputError) as caught:
        preflight.check_region(access)
    assert "moon-1" in str(caught.value)
    assert "eu-west-3" in caught.value.hint


def test_preflight_passes_for_good_credentials(access: AwsAccess) -> None:
    assert preflight.preflight(access, "prod").account == ACCOUNT
