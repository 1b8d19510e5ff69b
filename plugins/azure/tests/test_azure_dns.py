"""The azure-dns DNS provider through azure-mgmt-dns against the stand-in Resource Manager (no
ARM emulator exists; the stand-in serves the record-set REST calls with their shapes, etags and
conditional writes), built by the engine from a job's ``dns`` section as a host's run does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from azure_support import DEMO_SECRET, QUICKSTART
from qengine_azure.azure_dns import AzureDnsProvider
from qengine_azure.local_arm import LocalArm
from qengine_azure.local_tls import make_tls
from qengine_azure.settings import AzureSettings

from qengine import (
    ConflictError,
    Engine,
    InfrastructureError,
    InvalidInputError,
    SpecError,
    load_plugins,
)
from qengine.plugin import DnsRecord
from qengine.runner import MemoryStateStore

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
ZONE_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-dns/providers/Microsoft.Network/"
    "dnszones/example.com"
)


def _document(**dns: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(QUICKSTART.read_text())
    document["dns"] = {
        "kind": "azure-dns",
        "subscription_id": SUBSCRIPTION,
        "tenant_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "client_id": "12345678-90ab-cdef-1234-567890abcdef",
        "client_secret": {"secret": "dns-secret"},
        "resource_group": "rg-dns",
        "zone": "example.com",
        **dns,
    }
    return document


@pytest.fixture
def arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalArm]:
    tls = make_tls(tmp_path_factory.mktemp("tls"), ("localhost",))
    with LocalArm(tls) as server:
        server.put_resource(ZONE_ID, {"id": ZONE_ID, "name": "example.com", "location": "global"})
        yield server


def _provider(arm: LocalArm) -> AzureDnsProvider:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure,kubernetes"})
    settings = AzureSettings(arm_endpoint=arm.url, authority=arm.url, ca_file=arm.tls.ca)
    engine = Engine(plugins, store=MemoryStateStore(), settings={"azure": settings})
    secrets = json.loads((QUICKSTART.parent / "secrets.json").read_text())
    secrets["dns-secret"] = DEMO_SECRET
    accepted = engine.accept(_document(), sandbox_secrets=secrets, consume=False)
    provider = accepted.services.dns_provider()
    assert isinstance(provider, AzureDnsProvider)
    return provider


def _writes(arm: LocalArm) -> list[str]:
    return [r.method for r in arm.state.requests if r.method in ("PUT", "DELETE")]


def test_a_record_is_written_once_then_found_unchanged(arm: LocalArm) -> None:
    provider = _provider(arm)
    record = DnsRecord(name="shop.example.com", type="A", values=("203.0.113.7",), ttl=300)
    assert provider.ensure_record(record) is True
    stored = arm.resource(f"{ZONE_ID}/A/shop")
    assert stored is not None
    assert stored["properties"]["ARecords"] == [{"ipv4Address": "203.0.113.7"}]
    assert stored["properties"]["TTL"] == 300
    assert provider.ensure_record(record) is False
    assert _writes(arm) == ["PUT"]
    changed = DnsRecord(name="shop.example.com", type="A", values=("203.0.113.8",), ttl=300)
    assert provider.ensure_record(changed) is True
    assert _writes(arm) == ["PUT", "PUT"]


def test_cname_txt_and_the_apex(arm: LocalArm) -> None:
    provider = _provider(arm)
    provider.ensure_record(
        DnsRecord(name="www.example.com", type="CNAME", values=("lb.example.net",))
    )
    long_value = "v" * 300
    provider.ensure_record(DnsRecord(name="example.com", type="TXT", values=(long_value,)))
    stored = arm.resource(f"{ZONE_ID}/CNAME/www")
    assert stored is not None
    assert stored["properties"]["CNAMERecord"] == {"cname": "lb.example.net"}
    txt = arm.resource(f"{ZONE_ID}/TXT/@")
    assert txt is not None
    assert txt["properties"]["TXTRecords"] == [{"value": ["v" * 255, "v" * 45]}]
    assert (
        provider.ensure_record(DnsRecord(name="example.com", type="TXT", values=(long_value,)))
        is False
    )


def test_delete_is_idempotent(arm: LocalArm) -> None:
    provider = _provider(arm)
    record = DnsRecord(name="old.example.com", type="A", values=("203.0.113.9",))
    provider.ensure_record(record)
    assert provider.delete_record(DnsRecord(name="old.example.com", type="A", values=())) is True
    assert arm.resource(f"{ZONE_ID}/A/old") is None
    assert provider.delete_record(record) is False


def test_a_record_outside_the_zone_or_of_another_type_is_refused(arm: LocalArm) -> None:
    provider = _provider(arm)
    with pytest.raises(InvalidInputError, match="not in the zone"):
        provider.ensure_record(DnsRecord(name="shop.example.org", type="A", values=("1.2.3.4",)))
    with pytest.raises(InvalidInputError, match="not MX"):
        provider.ensure_record(DnsRecord(name="example.com", type="MX", values=("10 mx",)))


def test_a_concurrent_change_is_a_conflict(arm: LocalArm, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = _provider(arm)
    record = DnsRecord(name="race.example.com", type="A", values=("203.0.113.1",))
    provider.ensure_record(record)
    real_read = provider._read

    def read_then_someone_writes(wanted: DnsRecord) -> Any:
        found = real_read(wanted)
        stored = arm.resource(f"{ZONE_ID}/A/race")
        assert stored is not None
        arm.put_resource(f"{ZONE_ID}/A/race", {**stored, "etag": "changed-by-someone"})
        return found

    # The interleaving (another writer between our read and our write) is staged here; the
    # write and its If-Match refusal are real requests.
    monkeypatch.setattr(provider, "_read", read_then_someone_writes)
    with pytest.raises(ConflictError):
        provider.ensure_record(
            DnsRecord(name="race.example.com", type="A", values=("203.0.113.2",))
        )


def test_a_missing_zone_is_an_infrastructure_error_naming_it(arm: LocalArm) -> None:
    arm.delete_resource(ZONE_ID)
    record = DnsRecord(name="a.example.com", type="A", values=("1.2.3.4",))
    with pytest.raises(InfrastructureError) as caught:
        _provider(arm).ensure_record(record)
    assert "ParentResourceNotFound" in str(caught.value)
    assert "example.com" in str(caught.value)
    assert DEMO_SECRET not in str(caught.value)


def test_a_bad_dns_identity_is_refused_offline() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure,kubernetes"})
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(_document(tenant_id="contoso", client_secret=None))
    paths = {issue.path for issue in caught.value.issues}
    assert {"$.dns.tenant_id", "$.dns.client_secret"} <= paths
