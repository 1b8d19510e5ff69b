"""The real terraform gets the job's AWS keys from the run's credential endpoint, on moto.

Terraform's S3 backend (state object and DynamoDB lock) reads its keys through the AWS SDK's
container credential provider; nothing in its environment is a key. A ``local-exec``
provisioner shows what a child of terraform sees, and sleeps past short-lived keys so terraform
has to come back for fresh ones before it writes the state.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_support import (
    ACCOUNT,
    FAKE_KEY_ID,
    FAKE_SECRET,
    REGION,
    SignedRequest,
    SigningRecorder,
    secrets_of,
)
from qengine_aws.credentials import AccessKeys, AwsAccess, CredentialRequest
from qengine_aws.settings import AwsSettings
from qengine_aws.spec import StateBackend
from qengine_aws.state_backend import StateLocation, ensure_state_backend
from qengine_aws.terraform_run import terraform_for

from qengine import AuthError
from qengine.interfaces.cancel import CancelToken
from qengine.runner import StepContext
from qengine.runner.steps import NoteKind, StepEmitter
from qengine.spec import SecretRef
from qengine.terraform import ProviderSources

pytestmark = pytest.mark.slow

ROLE = f"arn:aws:iam::{ACCOUNT}:role/qengine-deployer"


class _Lines(StepEmitter):
    """Keeps the step's log lines (what the engine would redact and show)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, step_id: str, kind: NoteKind, message: str) -> None:
        self.lines.append(message)


class _WatchedAccess(AwsAccess):
    """An access that records each hand-out of its keys (the endpoint's only source)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handed_out: list[AccessKeys] = []

    def current_keys(self) -> AccessKeys:
        keys = super().current_keys()
        self.handed_out.append(keys)
        return keys


class _RefusedAccess(AwsAccess):
    """An access whose renewal STS refuses (the endpoint's source fails)."""

    def current_keys(self) -> AccessKeys:
        raise AuthError("assuming the role was refused", hint="Check the role's trust policy.")


class _RotatingAccess(_WatchedAccess):
    """Keys that last ``lifetime`` seconds, each set new (moto accepts any key)."""

    def __init__(self, *args: Any, lifetime: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lifetime = timedelta(seconds=lifetime)
        self._lock = threading.Lock()
        self.issued: list[AccessKeys] = []

    def current_keys(self) -> AccessKeys:
        with self._lock:
            now = datetime.now(UTC)
            if not self.issued or _expiry(self.issued[-1]) <= now:
                self.issued.append(self._create(now))
            self.handed_out.append(self.issued[-1])
            return self.issued[-1]

    def _create(self, now: datetime) -> AccessKeys:
        number = len(self.issued) + 1
        return AccessKeys(
            access_key_id=f"AKIAROTATING{number:08d}",
            secret_access_key=f"rotating-secret-{number}-{secrets.token_hex(16)}",
            expires_at=now + self._lifetime,
        )


def _expiry(keys: AccessKeys) -> datetime:
    assert keys.expires_at is not None
    return keys.expires_at


def _request(role_arn: str | None = None) -> CredentialRequest:
    return CredentialRequest(
        region=REGION,
        job_id="job-tf",
        organization_id="org-a",
        role_arn=role_arn,
        access_key_id=SecretRef(secret="key_id"),
        secret_access_key=SecretRef(secret="secret_key"),
    )


_OPENER = secrets_of({"key_id": FAKE_KEY_ID, "secret_key": FAKE_SECRET})


def _context(emitter: StepEmitter) -> StepContext:
    return StepContext(
        job_id="job-tf",
        organization_id="org-a",
        target_id="cluster-tf",
        step_id="aws.apply",
        idempotency_key="job-tf/aws.apply",
        cancel=CancelToken(),
        emitter=emitter,
    )


def _module(command: str) -> dict[str, Any]:
    """A root module with an S3 backend and one resource whose provisioner runs ``command``."""
    return {
        "terraform": {"backend": {"s3": {}}},
        "resource": {
            "terraform_data": {
                "probe": {
                    "input": "probe",
                    "provisioner": [{"local-exec": {"command": command}}],
                }
            }
        },
        "output": {"probe": {"value": "${terraform_data.probe.output}"}},
    }


def _state_backend(settings: AwsSettings) -> StateLocation:
    setup = AwsAccess(_request(), open_secret=_OPENER, settings=settings)
    location, _ = ensure_state_backend(
        setup, StateBackend(), cluster_id="cluster-tf", account=ACCOUNT, tls_only=False
    )
    return location


def _apply(access: AwsAccess, location: StateLocation, command: str) -> tuple[list[str], bytes]:
    """Plan and apply ``command``'s module; the step's log lines and every workspace file."""
    lines = _Lines()
    with terraform_for(
        _context(lines),
        access,
        _module(command),
        location,
        allow_destructive=False,
        sources=ProviderSources(),  # builtin terraform_data only
    ) as tf:
        tf.apply(tf.plan())
        assert tf.outputs()["probe"].value == "probe"
        files = b"".join(
            path.read_bytes() for path in sorted(tf.workspace.path.rglob("*")) if path.is_file()
        )
    return lines.lines, files


def _state(access: AwsAccess, location: StateLocation) -> dict[str, Any]:
    body = access.client("s3").get_object(Bucket=location.bucket, Key=location.key)["Body"]
    state: dict[str, Any] = json.loads(body.read())
    return state


@pytest.fixture
def location(settings: AwsSettings) -> StateLocation:
    return _state_backend(settings)


def _child_lines(lines: list[str]) -> list[str]:
    """What the provisioner's command printed."""
    marker = "(local-exec): "
    return [line.split(marker, 1)[1].strip() for line in lines if marker in line]


def _secrets(access: _WatchedAccess) -> set[str]:
    values = {FAKE_SECRET}
    for keys in access.handed_out:
        values.add(keys.secret_access_key)
        if keys.session_token:
            values.add(keys.session_token)
    return values


def test_terraform_reads_assumed_keys_from_the_endpoint_and_holds_none(
    settings: AwsSettings, location: StateLocation
) -> None:
    access = _WatchedAccess(_request(ROLE), open_secret=_OPENER, settings=settings)
    lines, files = _apply(access, location, "env | sort")
    child = dict(line.partition("=")[::2] for line in _child_lines(lines))
    names = set(child)
    assert {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN"} <= names
    assert child["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:")
    # The token is the driver's credential: masked in everything terraform prints.
    assert child["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == "***"
    assert not names & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    # init, plan, apply and output: four terraform processes, each of which asked once.
    assert len(access.handed_out) == 4
    assert all(keys.session_token for keys in access.handed_out)
    assert _state(access, location)["resources"][0]["type"] == "terraform_data"
    text = "\n".join(lines).encode()
    for value in _secrets(access):
        assert value.encode() not in files
        assert value.encode() not in text


@pytest.fixture
def recorder(moto: str) -> Iterator[SigningRecorder]:
    with SigningRecorder(moto) as started:
        yield started


def test_terraform_comes_back_for_renewed_keys_and_writes_the_state_with_them(
    location: StateLocation, recorder: SigningRecorder
) -> None:
    # Terraform's requests go through the recorder, which notes the key that signed each.
    settings = AwsSettings(endpoint_url=recorder.url)
    access = _RotatingAccess(_request(), open_secret=_OPENER, settings=settings, lifetime=2.0)
    lines, files = _apply(access, location, "sleep 5")
    assert len({keys.access_key_id for keys in access.handed_out}) >= 2
    written = _last(recorder.requests, lambda r: r.method == "PUT" and location.key in r.path)
    before = recorder.requests[: recorder.requests.index(written)]
    locked = _last(before, lambda r: r.target == "DynamoDB_20120810.PutItem")
    unlocked = _last(recorder.requests, lambda r: r.target == "DynamoDB_20120810.DeleteItem")
    # The apply's lock was taken before the sleep, the state written after it: with keys
    # issued after the first ones had expired, and current when they were used.
    assert written.at - locked.at > 5
    assert written.access_key_id != locked.access_key_id
    assert _issued(access, written.access_key_id) > _expiry(_keys(access, locked.access_key_id))
    for request in (written, unlocked):
        keys = _keys(access, request.access_key_id)
        assert _issued(access, keys.access_key_id).timestamp() <= request.at
        assert request.at <= _expiry(keys).timestamp() + 1
    state = _state(AwsAccess(_request(), open_secret=_OPENER, settings=settings), location)
    assert [resource["type"] for resource in state["resources"]] == ["terraform_data"]
    text = "\n".join(lines).encode()
    for value in _secrets(access):
        assert value.encode() not in files
        assert value.encode() not in text


def _last(requests: list[SignedRequest], chosen: Callable[[SignedRequest], bool]) -> SignedRequest:
    return [request for request in requests if chosen(request)][-1]


def _keys(access: _RotatingAccess, key_id: str) -> AccessKeys:
    (keys,) = [keys for keys in access.issued if keys.access_key_id == key_id]
    return keys


def _issued(access: _RotatingAccess, key_id: str) -> datetime:
    return _expiry(_keys(access, key_id)) - timedelta(seconds=2)


def test_keys_the_access_cannot_produce_fail_the_run_with_the_access_error(
    settings: AwsSettings, location: StateLocation
) -> None:
    access = _RefusedAccess(_request(), open_secret=_OPENER, settings=settings)
    with pytest.raises(AuthError) as caught:
        _apply(access, location, "true")
    assert str(caught.value) == "assuming the role was refused"
    assert caught.value.hint == "Check the role's trust policy."
    assert "init" in str(caught.value.__cause__)
