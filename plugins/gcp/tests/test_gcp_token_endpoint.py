"""The run's metadata endpoint: the token under its secret path only, with the metadata
protocol's header, ``expires_in`` capped by the lease."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from qengine_gcp.token_endpoint import TokenEndpoint

from qengine.plugin import AuthError, SecretValue

NOW = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
TOKEN = "ya29.endpoint-test-token"


def _get(url: str, flavor: bool = True) -> tuple[int, bytes]:
    headers = {"Metadata-Flavor": "Google"} if flavor else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _endpoint(expiry: datetime | None, lease: float = 900.0) -> TokenEndpoint:
    return TokenEndpoint(
        lambda: (SecretValue(TOKEN), expiry),
        project="acme-platform-prod",
        email="deployer@acme-platform-prod.iam.gserviceaccount.com",
        lease_seconds=lease,
        now=lambda: NOW,
    )


def test_the_token_is_served_under_the_secret_path_with_its_remaining_life() -> None:
    with _endpoint(NOW + timedelta(seconds=600)) as endpoint:
        base = f"http://{endpoint.host}/computeMetadata/v1"
        status, body = _get(f"{base}/instance/service-accounts/default/token?scopes=x")
        assert status == 200
        assert json.loads(body) == {
            "access_token": TOKEN,
            "expires_in": 600,
            "token_type": "Bearer",
        }
        assert _get(f"{base}/project/project-id") == (200, b"acme-platform-prod")
        assert endpoint.child_credentials() == {"GCE_METADATA_HOST": endpoint.host}


def test_a_token_that_never_expires_is_leased() -> None:
    with _endpoint(None, lease=120) as endpoint:
        url = f"http://{endpoint.host}/computeMetadata/v1/instance/service-accounts/default/token"
        assert json.loads(_get(url)[1])["expires_in"] == 120


@pytest.mark.parametrize("case", ["no-prefix", "wrong-prefix", "no-header", "other-path"])
def test_everything_else_is_refused(case: str) -> None:
    with _endpoint(None) as endpoint:
        address, _, prefix = endpoint.host.partition("/")
        path = "computeMetadata/v1/instance/service-accounts/default/token"
        # A prefix that differs in its last character, whatever that character is.
        wrong = prefix[:-1] + ("y" if prefix.endswith("x") else "x")
        url = {
            "no-prefix": f"http://{address}/{path}",
            "wrong-prefix": f"http://{address}/{wrong}/{path}",
            "no-header": f"http://{endpoint.host}/{path}",
            "other-path": f"http://{endpoint.host}/computeMetadata/v1/instance/attributes/",
        }[case]
        status, body = _get(url, flavor=case != "no-header")
        assert status == 404
        assert TOKEN.encode() not in body


def test_a_credential_failure_is_a_server_error_and_recorded() -> None:
    def failing() -> tuple[SecretValue, datetime | None]:
        raise AuthError("refused")

    with TokenEndpoint(failing, project="p", email="e") as endpoint:
        url = f"http://{endpoint.host}/computeMetadata/v1/instance/service-accounts/default/token"
        assert _get(url)[0] == 500
        assert endpoint.failures == ["AuthError"]
