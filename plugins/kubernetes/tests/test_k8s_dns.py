"""Routers' DNS records: ensured through the job's DNS provider once the Ingress has an
address, retired with the domains they no longer route, deleted with the router."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Literal

import attrs
import pytest
from k8s_support import DEMO_SECRETS, sim_settings
from qengine_kubernetes.dns import records_for

from qengine import Engine, Event, EventType, load_plugins
from qengine.plugin import CancelToken, DnsProvider, DnsRecord, JobServices, Registry, hookimpl
from qengine.runner import ChangeAction, JobResult, JobStatus, MemoryStateStore
from qengine.spec import DnsSpec
from qengine.testing.kube import KubeSimulator
from qengine.testing.kube.gatewayapi import install_gateway_api

Example = Callable[[str], dict[str, Any]]
SIMULATED_ADDRESS = "192.0.2.10"  # what the simulator's ingress controller publishes
Zone = dict[tuple[str, str], DnsRecord]


@attrs.frozen(kw_only=True)
class MemoryDns(DnsSpec):
    """A zone kept in the test's memory."""

    kind: Literal["memory"]


class MemoryDnsProvider(DnsProvider):
    """Records by (name, type); deleted by name and type, as a DNS provider does."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone

    def ensure_record(self, record: DnsRecord, cancel: CancelToken | None = None) -> bool:
        changed = self.zone.get((record.name, record.type)) != record
        self.zone[(record.name, record.type)] = record
        return changed

    def delete_record(self, record: DnsRecord, cancel: CancelToken | None = None) -> bool:
        return self.zone.pop((record.name, record.type), None) is not None


class MemoryDnsPlugin:
    """Registers the ``memory`` DNS kind; every job's provider shares :attr:`zone`."""

    def __init__(self) -> None:
        self.zone: Zone = {}
        self.built = 0

    def _provider(self, section: MemoryDns, services: JobServices) -> DnsProvider:
        self.built += 1
        return MemoryDnsProvider(self.zone)

    @hookimpl
    def qengine_register(self, registry: Registry) -> None:
        registry.add_dns_provider("memory", MemoryDns, self._provider, "a zone in memory")


@attrs.frozen(kw_only=True)
class Ran:
    """One job's result and events."""

    result: JobResult
    events: list[Event]

    def records_changed(self) -> list[tuple[ChangeAction, str]]:
        """The DNS records the job reported changing."""
        changed = [e.data for e in self.events if e.type is EventType.RESOURCE_CHANGED]
        return [
            (ChangeAction(str(d["action"])), str(d["name"]))
            for d in changed
            if d["kind"] == "DnsRecord"
        ]


Run = Callable[..., Ran]


@pytest.fixture
def dns() -> MemoryDnsPlugin:
    """A fresh memory zone's plugin."""
    return MemoryDnsPlugin()


@pytest.fixture
def run(dns: MemoryDnsPlugin, k8s_sim: KubeSimulator) -> Run:
    """Runs a job document through an engine with the memory DNS plugin, on ``k8s_sim``."""
    plugins = load_plugins(
        plugins=[("memory-dns", dns)], strict=True, environ={"QENGINE_PLUGINS": "kubernetes"}
    )
    store = MemoryStateStore()

    def run(doc: dict[str, Any], *, job_id: str, action: str = "deploy", **extra: Any) -> Ran:
        document = copy.deepcopy(doc)
        document.update(id=job_id, action=action)
        settings = {"kubernetes": sim_settings(k8s_sim, **extra)}
        engine = Engine(plugins, store=store, settings=settings)
        events: list[Event] = []
        result = engine.run(document, on_event=events.append, sandbox_secrets=DEMO_SECRETS)
        return Ran(result=result, events=events)

    return run


def _with_dns(example: Example, *domains: str) -> dict[str, Any]:
    doc = example("quickstart")
    doc["dns"] = {"kind": "memory"}
    _router(doc)["domains"] = list(domains)
    return doc


def _router(doc: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["environment"]["services"] if s["kind"] == "router")
    return found


def _a(name: str) -> DnsRecord:
    return DnsRecord(name=name, type="A", values=(SIMULATED_ADDRESS,))


def test_k8s_records_follow_the_kind_of_address() -> None:
    by_name = records_for("shop.example.com", [{"hostname": "lb-1.elb.example"}, {"ip": "1.2.3.4"}])
    assert by_name == [
        DnsRecord(name="shop.example.com", type="CNAME", values=("lb-1.elb.example",))
    ]
    by_ip = records_for(
        "x.example", [{"ip": "2001:db8::1"}, {"ip": "192.0.2.2"}, {"ip": "192.0.2.1"}]
    )
    assert by_ip == [
        DnsRecord(name="x.example", type="A", values=("192.0.2.1", "192.0.2.2")),
        DnsRecord(name="x.example", type="AAAA", values=("2001:db8::1",)),
    ]
    assert records_for("x.example", []) == []


def test_k8s_a_router_points_its_domains_at_the_ingress_address(
    run: Run, dns: MemoryDnsPlugin, example: Example
) -> None:
    doc = _with_dns(example, "shop.example.com", "WWW.Example.com.")
    first = run(doc, job_id="dns-1")
    assert first.result.status is JobStatus.SUCCEEDED, first.result.error
    assert dns.zone == {
        ("shop.example.com", "A"): _a("shop.example.com"),
        ("www.example.com", "A"): _a("www.example.com"),
    }
    assert sorted(first.records_changed()) == [
        (ChangeAction.UPDATE, "shop.example.com A"),
        (ChangeAction.UPDATE, "www.example.com A"),
    ]

    again = run(doc, job_id="dns-2")
    assert again.result.status is JobStatus.SUCCEEDED, again.result.error
    assert again.records_changed() == []

    _router(doc)["domains"] = ["shop.example.com"]
    moved = run(doc, job_id="dns-3")
    assert moved.result.status is JobStatus.SUCCEEDED, moved.result.error
    assert moved.records_changed() == [(ChangeAction.DELETE, "www.example.com A")]
    assert set(dns.zone) == {("shop.example.com", "A")}

    gone = run(doc, job_id="dns-4", action="delete")
    assert gone.result.status is JobStatus.SUCCEEDED, gone.result.error
    assert gone.records_changed() == [(ChangeAction.DELETE, "shop.example.com A")]
    assert dns.zone == {}


def test_k8s_a_removed_router_loses_its_records_and_its_domains_can_move(
    run: Run, dns: MemoryDnsPlugin, example: Example
) -> None:
    doc = _with_dns(example, "shop.example.com", "old.example.com")
    assert run(doc, job_id="dns-1").result.status is JobStatus.SUCCEEDED
    renamed = copy.deepcopy(doc)
    router = _router(renamed)
    router["name"] = "front"
    router["domains"] = ["shop.example.com"]

    pruned = run(renamed, job_id="dns-2")

    assert pruned.result.status is JobStatus.SUCCEEDED, pruned.result.error
    assert (ChangeAction.DELETE, "old.example.com A") in pruned.records_changed()
    assert dns.zone == {("shop.example.com", "A"): _a("shop.example.com")}


def test_k8s_a_plan_lists_the_records_and_builds_no_provider_without_dns(
    dns: MemoryDnsPlugin, example: Example
) -> None:
    plugins = load_plugins(
        plugins=[("memory-dns", dns)], strict=True, environ={"QENGINE_PLUGINS": "kubernetes"}
    )
    engine = Engine(plugins, store=MemoryStateStore())
    for action, verb in (("deploy", ChangeAction.UPDATE), ("delete", ChangeAction.DELETE)):
        doc = _with_dns(example, "shop.example.com")
        doc["action"] = action
        accepted = engine.accept(doc, sandbox_secrets=DEMO_SECRETS, consume=False)
        records = [
            c for s in engine.plan(accepted).steps for c in s.changes if c.kind == "DnsRecord"
        ]
        assert [(c.action, c.name) for c in records] == [(verb, "shop.example.com")]
    plain = engine.accept(example("quickstart"), sandbox_secrets=DEMO_SECRETS, consume=False)
    assert not any(c.kind == "DnsRecord" for s in engine.plan(plain).steps for c in s.changes)
    assert dns.built == 0, "planning builds no DNS provider"


def test_k8s_an_ingress_without_an_address_fails_the_router_step(
    dns: MemoryDnsPlugin, example: Example
) -> None:
    plugins = load_plugins(
        plugins=[("memory-dns", dns)], strict=True, environ={"QENGINE_PLUGINS": "kubernetes"}
    )
    doc = _with_dns(example, "shop.example.com")
    doc["services"] = ["public"]
    with KubeSimulator(controllers=False) as sim:  # no ingress controller publishes an address
        settings = {"kubernetes": sim_settings(sim, rollout_timeout=1.0)}
        engine = Engine(plugins, store=MemoryStateStore(), settings=settings)
        result = engine.run(doc, sandbox_secrets=DEMO_SECRETS)
    assert result.status is JobStatus.FAILED
    assert result.error is not None
    assert "the DNS records of public cannot be made" in result.error.message
    assert "ingress controller" in result.error.hint
    assert dns.zone == {}


def test_k8s_a_gateway_routed_router_points_its_domains_at_the_gateways_address(
    run: Run, dns: MemoryDnsPlugin, example: Example, k8s_sim: KubeSimulator
) -> None:
    install_gateway_api(k8s_sim)
    doc = _with_dns(example, "shop.example.com")
    doc["target"] = {"kind": "sandbox", "routing": "gateway"}
    first = run(doc, job_id="gw-dns-1")
    assert first.result.status is JobStatus.SUCCEEDED, first.result.error
    # No Ingress exists: the address is the one the Gateway's status publishes.
    assert not k8s_sim.objects("ingresses.networking.k8s.io")
    assert dns.zone == {("shop.example.com", "A"): _a("shop.example.com")}
    gone = run(doc, job_id="gw-dns-2", action="delete")
    assert gone.result.status is JobStatus.SUCCEEDED, gone.result.error
    assert dns.zone == {}
