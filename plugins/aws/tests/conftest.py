"""Fixtures of the AWS plugin's tests: a moto server on 127.0.0.1 and accesses to it."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from aws_support import FAKE_KEY_ID, FAKE_SECRET, REGION, job_services, reset_auth, secrets_of
from moto.server import ThreadedMotoServer
from qengine_aws.credentials import AwsAccess, CredentialRequest
from qengine_aws.settings import AwsSettings

from qengine.plugin import JobServices
from qengine.testing.helm import HelmUnavailableError, helm_in_environ

CHECKOUT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session", autouse=True)
def _helm_for_the_addon_stack() -> Iterator[None]:
    """Infrastructure jobs install the add-on stack with the real helm, and their preflight
    refuses a host without one (:func:`qengine.testing.helm.helm_in_environ`)."""
    try:
        with helm_in_environ(CHECKOUT):
            yield
    except HelmUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One in-process moto server for the session; its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto(moto_server: str) -> str:
    """The moto endpoint, reset to an empty account before the test."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    return moto_server


@pytest.fixture
def settings(moto: str) -> AwsSettings:
    """Settings pointing every client at moto, with a quick poll for pending changes."""
    return AwsSettings(endpoint_url=moto, poll_interval=0.05)


@pytest.fixture
def access(settings: AwsSettings) -> AwsAccess:
    """An access with a sealed base credential and no role (moto accepts any key)."""
    from qengine.spec import SecretRef

    request = CredentialRequest(
        region=REGION,
        job_id="job-1",
        organization_id="org-a",
        access_key_id=SecretRef(secret="key_id"),
        secret_access_key=SecretRef(secret="secret_key"),
    )
    opener = secrets_of({"key_id": FAKE_KEY_ID, "secret_key": FAKE_SECRET})
    return AwsAccess(request, open_secret=opener, settings=settings)


@pytest.fixture
def services(settings: AwsSettings) -> JobServices:
    """A job's services whose AWS settings are ``settings`` with the fake key pair as the base
    credential: what the registry and DNS providers are built from."""
    return job_services(attrs.evolve(settings, sandbox_credentials=(FAKE_KEY_ID, FAKE_SECRET)))


@pytest.fixture
def auth_enforced(moto: str) -> Iterator[str]:
    """moto checking every request's signature against IAM (it accepts any key otherwise)."""
    previous = reset_auth(moto, "0")
    try:
        yield moto
    finally:
        reset_auth(moto, previous)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) the real-AWS tier unless QENGINE_TEST_AWS=1 asks for it."""
    if os.environ.get("QENGINE_TEST_AWS") == "1":
        return
    real = [item for item in items if item.get_closest_marker("real_cloud")]
    if real:
        config.hook.pytest_deselected(items=real)
        items[:] = [item for item in items if not item.get_closest_marker("real_cloud")]
