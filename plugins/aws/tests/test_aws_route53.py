"""The Route53 DNS provider against moto: zone lookup, UPSERT and wait, compare, delete;
built as the engine builds it, from the job's ``dns`` section and services."""

from __future__ import annotations

import pytest
from qengine_aws.credentials import AwsAccess
from qengine_aws.route53 import Route53DnsProvider
from qengine_aws.spec import Route53Dns

from qengine.plugin import (
    CancelledError,
    CancelToken,
    DnsProvider,
    DnsRecord,
    InvalidInputError,
    JobServices,
)

ZONE = "prod.example.com"


def _zone(access: AwsAccess, name: str = ZONE, *, private: bool = False) -> str:
    route53 = access.client("route53")
    args = {}
    if private:
        vpc = access.client("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        args = {
            "VPC": {"VPCRegion": access.region, "VPCId": vpc},
            "HostedZoneConfig": {"PrivateZone": True, "Comment": "private"},
        }
    zone = route53.create_hosted_zone(Name=name, CallerReference=f"{name}{private}", **args)
    return str(zone["HostedZone"]["Id"]).removeprefix("/hostedzone/")


def _provider(services: JobServices, **extra: str) -> Route53DnsProvider:
    return Route53DnsProvider(Route53Dns(kind="route53", zone=ZONE, **extra), services)  # type: ignore[arg-type]


def _held(access: AwsAccess, zone_id: str, name: str) -> list[dict[str, object]]:
    sets = access.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    return [s for s in sets["ResourceRecordSets"] if s["Name"] == name]


def test_the_registered_factory_builds_the_jobs_provider(
    services: JobServices, access: AwsAccess
) -> None:
    provider = services.dns_provider()  # the example job's section: zone prod.example.com
    assert isinstance(provider, Route53DnsProvider)
    assert isinstance(provider, DnsProvider)
    zone_id = _zone(access)
    record = DnsRecord(name="www.prod.example.com", type="CNAME", values=("lb.example.net",))
    assert provider.ensure_record(record) is True
    assert _held(access, zone_id, "www.prod.example.com.")[0]["Type"] == "CNAME"


def test_zone_is_found_by_name_ignoring_a_private_twin(
    services: JobServices, access: AwsAccess
) -> None:
    _zone(access, private=True)
    public = _zone(access)
    assert _provider(services).zone_id() == public


def test_unknown_zone_is_refused_with_a_hint(services: JobServices) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _provider(services).zone_id()
    assert "dns.zone_id" in caught.value.hint


def test_upsert_then_unchanged_then_update_then_delete(
    services: JobServices, access: AwsAccess
) -> None:
    zone_id = _zone(access)
    provider = _provider(services)
    record = DnsRecord(name="api.prod.example.com", type="A", values=("192.0.2.10",), ttl=60)
    assert provider.ensure_record(record) is True
    (held,) = _held(access, zone_id, "api.prod.example.com.")
    assert held["ResourceRecords"] == [{"Value": "192.0.2.10"}]
    assert held["TTL"] == 60
    assert provider.ensure_record(record) is False
    moved = DnsRecord(name="API.prod.example.com.", type="A", values=("192.0.2.11",), ttl=60)
    assert provider.ensure_record(moved) is True
    (held,) = _held(access, zone_id, "api.prod.example.com.")
    assert held["ResourceRecords"] == [{"Value": "192.0.2.11"}]
    assert provider.delete_record(record) is True
    assert _held(access, zone_id, "api.prod.example.com.") == []
    assert provider.delete_record(record) is False


def test_values_compare_as_a_set(services: JobServices, access: AwsAccess) -> None:
    _zone(access)
    provider = _provider(services)
    record = DnsRecord(name="www.prod.example.com", type="A", values=("192.0.2.1", "192.0.2.2"))
    assert provider.ensure_record(record)
    swapped = DnsRecord(name="www.prod.example.com", type="A", values=("192.0.2.2", "192.0.2.1"))
    assert provider.ensure_record(swapped) is False


def test_a_record_outside_the_zone_is_refused(services: JobServices, access: AwsAccess) -> None:
    _zone(access)
    with pytest.raises(InvalidInputError):
        _provider(services).ensure_record(
            DnsRecord(name="evil.example.org", type="A", values=("192.0.2.1",))
        )


def test_a_cancelled_job_stops_waiting(services: JobServices, access: AwsAccess) -> None:
    # moto reports changes INSYNC at once; a cancelled token still stops before the first poll.
    zone_id = _zone(access)
    token = CancelToken()
    token.cancel("test")
    provider = Route53DnsProvider(
        Route53Dns(kind="route53", zone=ZONE, zone_id=zone_id),  # type: ignore[arg-type]
        services,
        cancel=token,
    )
    with pytest.raises(CancelledError):
        provider.ensure_record(
            DnsRecord(name="x.prod.example.com", type="A", values=("192.0.2.1",))
        )
