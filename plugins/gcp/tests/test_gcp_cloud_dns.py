"""The cloud-dns DNS provider against a local Cloud DNS fake (no emulator exists; the fake
serves the REST calls the provider makes, with the API's shapes and its atomic changes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gcp_support import REPO
from qengine_gcp.cloud_dns import CloudDnsProvider
from qengine_gcp.sandbox_dns import LocalCloudDns
from qengine_gcp.settings import GcpSettings

from qengine import SpecError, load_plugins
from qengine.plugin import (
    AuthError,
    DnsRecord,
    InvalidInputError,
    JobSecrets,
    JobServices,
)
from qengine.retry import RetryPolicy

TOKEN = "ya29.dns-test-token"
PROJECT = "acme-platform-prod"


def _document(**dns: Any) -> dict[str, Any]:
    import json

    document: dict[str, Any] = json.loads((REPO / "examples/quickstart/job.json").read_text())
    document["dns"] = {
        "kind": "cloud-dns",
        "project": PROJECT,
        "zone": "example.com",
        "service_account": "qengine-dns@acme-platform-prod.iam.gserviceaccount.com",
        **dns,
    }
    return document


def _provider(fake: LocalCloudDns, token: str = TOKEN, **dns: Any) -> CloudDnsProvider:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes"})
    settings = GcpSettings(
        dns_endpoint=fake.url,
        sandbox_token=token,
        poll_interval=0.01,
        poll=RetryPolicy(max_attempts=20, max_elapsed_seconds=10.0, initial_backoff=0.01),
    )
    services = JobServices(
        job=plugins.loader.load(_document(**dns)),
        secrets=JobSecrets(None),
        registry=plugins.registry,
        settings={"gcp": settings},
    )
    provider = services.dns_provider()
    assert isinstance(provider, CloudDnsProvider)
    return provider


@pytest.fixture
def dns() -> Iterator[LocalCloudDns]:
    zones = {"example-com": "example.com.", "other": "example.org."}
    with LocalCloudDns(PROJECT, zones, token=TOKEN) as fake:
        yield fake


def test_ensure_creates_then_finds_nothing_to_do(dns: LocalCloudDns) -> None:
    provider = _provider(dns)
    record = DnsRecord(name="shop.example.com", type="A", values=("203.0.113.7",), ttl=300)
    assert provider.ensure_record(record) is True
    assert provider.managed_zone() == "example-com"
    held = dns.records["example-com"][("shop.example.com.", "A")]
    assert held["rrdatas"] == ["203.0.113.7"]
    assert provider.ensure_record(record) is False
    assert dns.posted == 1  # an unchanged record sends no change


def test_ensure_replaces_the_held_record_atomically(dns: LocalCloudDns) -> None:
    provider = _provider(dns)
    provider.ensure_record(DnsRecord(name="shop.example.com", type="A", values=("203.0.113.7",)))
    changed = DnsRecord(name="shop.example.com", type="A", values=("203.0.113.8",), ttl=60)
    assert provider.ensure_record(changed) is True
    change = dns.changes["2"]
    assert [d["rrdatas"] for d in change["deletions"]] == [["203.0.113.7"]]
    assert [a["rrdatas"] for a in change["additions"]] == [["203.0.113.8"]]
    assert dns.records["example-com"][("shop.example.com.", "A")]["ttl"] == 60


def test_delete_removes_whatever_is_held(dns: LocalCloudDns) -> None:
    provider = _provider(dns)
    provider.ensure_record(DnsRecord(name="shop.example.com", type="A", values=("203.0.113.7",)))
    gone = DnsRecord(name="shop.example.com", type="A", values=())
    assert provider.delete_record(gone) is True
    assert dns.records["example-com"] == {}
    assert provider.delete_record(gone) is False


def test_a_record_outside_the_zone_and_a_missing_zone_are_refused(dns: LocalCloudDns) -> None:
    with pytest.raises(InvalidInputError, match="not in the zone"):
        _provider(dns).ensure_record(DnsRecord(name="shop.example.net", type="A", values=("1",)))
    with pytest.raises(InvalidInputError, match=r"\$\.dns\.zone"):
        _provider(dns, zone="example.net").ensure_record(
            DnsRecord(name="shop.example.net", type="A", values=("203.0.113.7",))
        )


def test_a_refused_token_is_an_auth_error(dns: LocalCloudDns) -> None:
    record = DnsRecord(name="shop.example.com", type="A", values=("203.0.113.7",))
    with pytest.raises(AuthError):
        _provider(dns, token="ya29.someone-else").ensure_record(record)


def test_a_bad_managed_zone_name_is_refused_offline() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes"})
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(_document(managed_zone="Example_Com", service_account="x@y"))
    paths = {issue.path for issue in caught.value.issues}
    assert paths == {"$.dns.managed_zone", "$.dns.service_account"}
