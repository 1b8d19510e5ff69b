"""The credential endpoint over real HTTP: who it answers, what, and botocore reading it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from qengine_aws.credential_endpoint import CredentialEndpoint
from qengine_aws.credentials import AccessKeys

from qengine import AuthError, CancelledError, InfrastructureError

KEYS = AccessKeys(
    access_key_id="AKIAENDPOINTTEST0001",
    secret_access_key="endpoint-test-secret-key-do-not-show",
    session_token="endpoint-test-session-token-do-not-show",
)


def _get(
    url: str, token: str | None = None, method: str = "GET"
) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, method=method)
    if token is not None:
        request.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read(), dict(refused.headers)


def test_the_right_path_and_token_get_the_current_keys() -> None:
    handed: list[AccessKeys] = []

    def source() -> AccessKeys:
        handed.append(KEYS)
        return KEYS

    with CredentialEndpoint(source, lease_seconds=600) as endpoint:
        status, body, headers = _get(endpoint.url, endpoint.token)
        assert endpoint.fetches == 1
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    answer = json.loads(body)
    assert set(answer) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert answer["AccessKeyId"] == KEYS.access_key_id
    assert answer["SecretAccessKey"] == KEYS.secret_access_key
    assert answer["Token"] == KEYS.session_token
    assert answer["Expiration"].endswith("Z")
    expires = datetime.fromisoformat(answer["Expiration"])
    assert timedelta(seconds=590) < expires - datetime.now(UTC) <= timedelta(seconds=600)
    assert len(handed) == 1


def test_keys_that_expire_sooner_than_the_lease_are_announced_with_their_own_expiry() -> None:
    soon = datetime.now(UTC) + timedelta(seconds=42)
    keys = AccessKeys(access_key_id="AKIASOON", secret_access_key="s", expires_at=soon)
    with CredentialEndpoint(lambda: keys, lease_seconds=900) as endpoint:
        _, body, _ = _get(endpoint.url, endpoint.token)
    answer = json.loads(body)
    assert "Token" not in answer
    assert abs(datetime.fromisoformat(answer["Expiration"]) - soon) < timedelta(seconds=0.01)


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("", 403), ("wrong", 403), ("Bearer {token}", 403), ("{token}x", 403)],
    ids=["missing", "empty", "wrong", "scheme-prefixed", "extended"],
)
def test_a_missing_or_wrong_token_is_refused_without_detail(token: str | None, status: int) -> None:
    with CredentialEndpoint(lambda: KEYS) as endpoint:
        given = None if token is None else token.format(token=endpoint.token)
        answer = _get(endpoint.url, given)
        assert endpoint.fetches == 0
    assert answer[:2] == (status, b"")


@pytest.mark.parametrize(
    "path", ["/", "/other", "{path}/", "{path}x", "{path}?x=1", "/..{path}"], ids=str
)
def test_any_other_path_is_not_found_even_with_the_token(path: str) -> None:
    with CredentialEndpoint(lambda: KEYS) as endpoint:
        base = endpoint.url[: -len(endpoint.path)]
        answer = _get(base + path.format(path=endpoint.path), endpoint.token)
        assert endpoint.fetches == 0
    assert answer[:2] == (404, b"")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
def test_other_methods_are_not_found(method: str) -> None:
    with CredentialEndpoint(lambda: KEYS) as endpoint:
        answer = _get(endpoint.url, endpoint.token, method=method)
        assert endpoint.fetches == 0
    assert answer[:2] == (404, b"")


def test_each_run_has_its_own_path_and_token() -> None:
    one, two = CredentialEndpoint(lambda: KEYS), CredentialEndpoint(lambda: KEYS)
    assert one.path != two.path
    assert one.token != two.token
    assert len(one.token) >= 40
    assert len(one.path) >= 30


def test_it_listens_on_loopback_only_and_not_after_the_run() -> None:
    with CredentialEndpoint(lambda: KEYS) as endpoint:
        url = endpoint.url
        assert url.startswith("http://127.0.0.1:")
        assert _get(url, endpoint.token)[0] == 200
        # Bound to 127.0.0.1 itself, not to every address: another loopback address of the
        # same port is refused.
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(url.replace("127.0.0.1", "127.0.0.2"), timeout=2)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
    with pytest.raises(RuntimeError):
        _ = endpoint.url


def test_a_failing_source_answers_a_plain_error_and_keeps_the_cause() -> None:
    def source() -> AccessKeys:
        raise ValueError("cause with " + KEYS.secret_access_key)

    with CredentialEndpoint(source) as endpoint:
        status, body, _ = _get(endpoint.url, endpoint.token)
        assert isinstance(endpoint.failure, ValueError)
        assert endpoint.fetches == 0
    assert status == 500
    assert json.loads(body)["code"] == "CredentialsUnavailable"
    assert KEYS.secret_access_key.encode() not in body


def test_nothing_is_logged(capfd: pytest.CaptureFixture[str]) -> None:
    with CredentialEndpoint(lambda: KEYS) as endpoint:
        _get(endpoint.url, endpoint.token)
        _get(endpoint.url, "wrong")
        _get(endpoint.url + "x")
    out, err = capfd.readouterr()
    assert out == err == ""


def test_the_child_environment_names_the_endpoint_and_holds_no_key() -> None:
    with CredentialEndpoint(lambda: KEYS) as endpoint:
        child = endpoint.child_environment("eu-west-3")
        assert child.secret == {"AWS_CONTAINER_AUTHORIZATION_TOKEN": endpoint.token}
        assert child.plain == {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_REGION": "eu-west-3",
            "AWS_DEFAULT_REGION": "eu-west-3",
        }
    values = " ".join([*child.secret.values(), *child.plain.values()])
    assert KEYS.secret_access_key not in values
    assert KEYS.access_key_id not in values
    assert endpoint.token not in repr(child)


def test_botocore_container_provider_reads_the_keys() -> None:
    """The SDK's own container provider, given the child's variables as its environ.

    botocore renews 15 minutes before the expiration it was given: with an hour's lease it
    keeps the keys (a shorter one makes it ask on every use).
    """
    from botocore.credentials import ContainerProvider  # type: ignore[import-untyped]

    with CredentialEndpoint(lambda: KEYS, lease_seconds=3600) as endpoint:
        child = endpoint.child_environment("eu-west-3")
        environ: dict[str, Any] = {**child.plain, **child.secret}
        credentials = ContainerProvider(environ=environ).load()
        frozen = credentials.get_frozen_credentials()
        assert endpoint.fetches == 1
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        KEYS.access_key_id,
        KEYS.secret_access_key,
        KEYS.session_token,
    )
    assert credentials.method == "container-role"


def test_the_lease_is_bounded() -> None:
    with pytest.raises(ValueError, match="lease_seconds"):
        CredentialEndpoint(lambda: KEYS, lease_seconds=0)
    with pytest.raises(ValueError, match="lease_seconds"):
        CredentialEndpoint(lambda: KEYS, lease_seconds=3601)


class _Flaky:
    """A source that fails with ``error`` until told to recover."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.recovered = False

    def __call__(self) -> AccessKeys:
        if not self.recovered:
            raise self.error
        return KEYS


def _failing_run(source: _Flaky, error: Exception, *, recover: bool = False) -> None:
    """A run whose endpoint answers (then, with ``recover``, succeeds) and which fails."""
    with CredentialEndpoint(source) as endpoint:
        assert _get(endpoint.url, endpoint.token)[0] == 500
        if recover:
            source.recovered = True
            assert _get(endpoint.url, endpoint.token)[0] == 200
            assert endpoint.failure is None
        raise error


def test_a_run_that_fails_after_the_source_failed_raises_the_source_error() -> None:
    source = _Flaky(AuthError("the role could not be assumed", hint="Check the trust."))
    failed = InfrastructureError("terraform init failed: credentials unavailable")
    with pytest.raises(AuthError) as caught:
        _failing_run(source, failed)
    assert caught.value is source.error
    assert caught.value.hint == "Check the trust."
    assert caught.value.__cause__ is failed


def test_a_recovered_source_or_a_foreign_error_is_left_alone() -> None:
    failed = InfrastructureError("terraform apply failed")
    with pytest.raises(InfrastructureError) as caught:
        _failing_run(_Flaky(AuthError("refused")), failed, recover=True)
    assert caught.value is failed
    with pytest.raises(KeyError):
        _failing_run(_Flaky(AuthError("refused")), KeyError("not a qengine error"))
    with pytest.raises(CancelledError):
        _failing_run(_Flaky(AuthError("refused")), CancelledError("the job was cancelled"))
