"""The DNS records of routers, when the environment job has a ``dns`` section.

Each domain of a router points at the address the cluster's ingress controller publishes in
its Ingress's ``status.loadBalancer.ingress`` (with Gateway API routing, the environment
Gateway's ``status.addresses``): a ``CNAME`` to the load balancer's host name when
there is one (cloud load balancers are reached by name and may change address), else ``A``
(and ``AAAA``) records of its IP addresses. The records go through the job's DNS provider
(``services.dns_provider()``, the :class:`~qengine.plugin.DnsProvider` its plugin registered),
only while a step runs.

* deploy: the router's step waits for the address (as long as a rollout may take), deletes the
  record types a domain no longer uses (a ``CNAME`` shares its name with no other record),
  then ensures its records. It does so on every deploy, changed or not: ensuring a record that
  is already right changes nothing, and a run that failed here is completed by the next one.
  Domains that a kept revision of the router routed and no router of the spec routes any
  more lose their records.
* delete (the router's, or the pruning of a router removed from the spec): the records of its
  domains are deleted before its Ingress, so no name is left pointing at an address the cloud
  may hand to someone else. A domain that another router of the spec routes is left to it.

Records are deleted by name and type (whatever values they hold), as
:meth:`~qengine.plugin.DnsProvider.delete_record` does for a record it holds.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Sequence

from qengine.plugin import DeploymentError, DnsProvider, DnsRecord
from qengine.runner import ChangeAction, StepContext
from qengine.spec import RouterService
from qengine_kubernetes import history
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.gateways import POLL_SECONDS, gateway_addresses
from qengine_kubernetes.jobctx import EnvJob
from qengine_kubernetes.render import Manifest
from qengine_kubernetes.render.names import GATEWAY
from qengine_kubernetes.resources import ROUTE_KINDS
from qengine_kubernetes.rollout import RolloutError, Waiter, load_balancer_of, rollout_timeout

RECORD_TYPES = ("CNAME", "A", "AAAA")
KIND = "DnsRecord"


def records_for(host: str, addresses: Sequence[Manifest]) -> list[DnsRecord]:
    """The records that point ``host`` at an Ingress's ``addresses``: a CNAME to the first
    host name, else an A record of the IPv4 and an AAAA record of the IPv6 addresses."""
    names = [str(a["hostname"]) for a in addresses if a.get("hostname")]
    if names:
        return [DnsRecord(name=host, type="CNAME", values=(names[0],))]
    ips = [ipaddress.ip_address(str(a["ip"])) for a in addresses if a.get("ip")]
    records: list[DnsRecord] = []
    for version, kind in ((4, "A"), (6, "AAAA")):
        values = tuple(sorted({str(ip) for ip in ips if ip.version == version}))
        if values:
            records.append(DnsRecord(name=host, type=kind, values=values))
    return records


def hosts_of(route: Manifest) -> list[str]:
    """The host names an Ingress or an HTTPRoute routes."""
    spec = route.get("spec", {})
    if route.get("kind") == "HTTPRoute":
        return [str(host) for host in spec.get("hostnames") or []]
    rules = spec.get("rules") or []
    return [str(rule["host"]) for rule in rules if rule.get("host")]


def route_kind(env: EnvJob) -> str:
    """The kind that routes a router's hosts with the job's routing."""
    return "HTTPRoute" if env.routing.gateway else "Ingress"


def _router(env: EnvJob, name: str) -> RouterService | None:
    service = env.service(name)
    return service if isinstance(service, RouterService) and env.job.dns is not None else None


def _provider(env: EnvJob) -> DnsProvider:
    provider = env.services.dns_provider()
    if provider is None:  # _router saw the job's dns section
        raise DeploymentError("the job's dns section built no DNS provider")
    return provider


def publish(
    env: EnvJob,
    api: KubeApi,
    ctx: StepContext,
    name: str,
    objects: Sequence[Manifest],
    past: history.History,
) -> None:
    """Point each domain of router ``name`` at its Ingress's address; retire the records of
    domains it no longer routes. Nothing unless ``name`` is a router and the job has DNS."""
    router = _router(env, name)
    if router is None:
        return
    route = next(o for o in objects if o["kind"] in ROUTE_KINDS)
    timeout = rollout_timeout(route, env.settings.rollout_timeout)
    try:
        if route["kind"] == "HTTPRoute":
            addresses = _gateway_address(api, ctx, env.namespace, name, timeout)
        else:
            waiter = Waiter(api, ctx, env.namespace, name, fail_fast=False)
            addresses = load_balancer_of(waiter.ingress(route, timeout))
    except RolloutError as exc:
        raise DeploymentError(
            f"{exc.message}: without an address, the DNS records of {name} cannot be made",
            hint=f"The cluster's {'Gateway' if route['kind'] == 'HTTPRoute' else 'ingress'} "
            f"controller gives {'Gateways' if route['kind'] == 'HTTPRoute' else 'Ingresses'} "
            "their address: check that it runs and that its load balancer was created.",
        ) from exc
    provider = _provider(env)
    for host in sorted(_canonical(router.domains)):
        _point(provider, ctx, host, records_for(host, addresses))
    routed = {host for r in past.revisions for o in r.objects for host in _hosts(o)}
    for host in sorted(_canonical(routed) - routed_hosts(env)):
        _point(provider, ctx, host, [])


def _gateway_address(
    api: KubeApi, ctx: StepContext, namespace: str, name: str, timeout: float
) -> list[Manifest]:
    """The addresses of the environment's Gateway (its ``status.addresses``), awaited."""
    deadline = time.monotonic() + timeout
    while True:
        ctx.cancel.raise_if_cancelled()
        found = gateway_addresses(api.get("Gateway", namespace, GATEWAY))
        if found:
            return found
        if time.monotonic() >= deadline:
            raise RolloutError(f"Gateway {GATEWAY} has no address after {timeout:.0f}s")
        ctx.emit_progress(f"{name}: gateway {GATEWAY} awaits an address", service=name)
        ctx.cancel.wait(POLL_SECONDS)


def withdraw(env: EnvJob, api: KubeApi | None, ctx: StepContext, name: str) -> None:
    """Delete the records of router ``name``'s domains: those of the spec and those its live
    Ingress routes (read through ``api``; None when the namespace is gone). Nothing unless
    ``name`` is a router and the job has DNS."""
    router = _router(env, name)
    if router is None:
        return
    live = api.get(route_kind(env), env.namespace, name) if api is not None else None
    hosts = [*router.domains, *(hosts_of(live) if live else [])]
    withdraw_hosts(env, ctx, hosts, deleting=name)


def withdraw_hosts(
    env: EnvJob, ctx: StepContext, hosts: Iterable[str], *, deleting: str | None = None
) -> None:
    """Delete the records of ``hosts`` (when the job has DNS), but not those of a domain a
    router of the spec routes, other than ``deleting`` (the router being deleted): that
    router's own step points them."""
    if env.job.dns is None:
        return
    chosen = sorted(_canonical(hosts) - routed_hosts(env, but=deleting))
    if chosen:
        provider = _provider(env)
        for host in chosen:
            _point(provider, ctx, host, [])


def routed_hosts(env: EnvJob, *, but: str | None = None) -> set[str]:
    """The domains the routers of the spec route (but router ``but``), in canonical form."""
    return _canonical(
        domain
        for service in env.job.environment.services
        if isinstance(service, RouterService) and service.name != but
        for domain in service.domains
    )


def _canonical(hosts: Iterable[str]) -> set[str]:
    return {host.lower().rstrip(".") for host in hosts}


def _hosts(obj: Manifest) -> list[str]:
    return hosts_of(obj) if obj.get("kind") in ROUTE_KINDS else []


def _point(
    provider: DnsProvider, ctx: StepContext, host: str, records: Sequence[DnsRecord]
) -> None:
    """Make ``records`` the records of ``host``: other types first deleted, then each ensured."""
    used = {record.type for record in records}
    for kind in RECORD_TYPES:
        ctx.cancel.raise_if_cancelled()
        if kind not in used and provider.delete_record(
            DnsRecord(name=host, type=kind, values=()), ctx.cancel
        ):
            ctx.emit_resource_changed(ChangeAction.DELETE, KIND, f"{host} {kind}")
    for record in records:
        ctx.cancel.raise_if_cancelled()
        if provider.ensure_record(record, ctx.cancel):
            values = " ".join(record.values)
            ctx.emit_resource_changed(
                ChangeAction.UPDATE, KIND, f"{host} {record.type}", f"{host} {record.type} {values}"
            )
