"""Offline checks of Azure infrastructure jobs, through the plugin loaded from its entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure_support import EXAMPLE, example, run_qengine
from qengine_azure.spec import AzureProvider

from qengine import SpecError, load_plugins

Change = Callable[[dict[str, Any]], object]


def _issues(document: dict[str, Any]) -> dict[str, str]:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(document)
    return {issue.path: issue.message for issue in caught.value.issues}


def test_example_loads_into_the_azure_section() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
    job = plugins.loader.load(example())
    provider = job.cluster.provider  # type: ignore[union-attr]
    assert isinstance(provider, AzureProvider)
    assert provider.node_pools[0].mode == "System"
    assert provider.node_pools[1].spot
    assert provider.client_secret is not None
    assert provider.client_secret.secret == "azure-client-secret"
    assert provider.resource_group.create


def _pool(index: int, **values: object) -> Change:
    return lambda p: p["node_pools"][index].update(values)


def _net(**values: object) -> Change:
    return lambda p: p["network"].update(values)


def _state(**values: object) -> Change:
    return lambda p: p["state"].update(values)


def _both(*changes: Change) -> Change:
    return lambda p: [change(p) for change in changes]


BAD: list[tuple[str, Change, str]] = [
    ("subscription", lambda p: p.update(subscription_id="acme"), "subscription_id"),
    ("tenant", lambda p: p.update(tenant_id="contoso.onmicrosoft.com"), "tenant_id"),
    ("client", lambda p: p.update(client_id="12345678"), "client_id"),
    ("no-credential", lambda p: p.pop("client_secret"), "client_secret"),
    (
        "two-credentials",
        lambda p: p.update(client_assertion={"secret": "azure-client-secret"}),
        "client_assertion",
    ),
    ("secret-and-workload", lambda p: p.update(workload_identity=True), "workload_identity"),
    ("location", lambda p: p.update(location="West Europe"), "location"),
    (
        "resource-group-dot",
        lambda p: p.update(resource_group={"name": "rg."}),
        "resource_group.name",
    ),
    (
        "resource-group-long",
        lambda p: p.update(resource_group={"name": "r" * 91}),
        "resource_group.name",
    ),
    (
        "node-resource-group-long",
        lambda p: p.update(resource_group={"name": "r" * 70}),
        "$.cluster.name",
    ),
    ("vnet-public", _net(vnet="20.0.0.0/12", nodes="20.0.0.0/16"), "network.vnet"),
    ("vnet-ipv6", _net(vnet="fd00::/48"), "network.vnet"),
    ("nodes-outside-vnet", _net(nodes="10.100.0.0/16"), "network.nodes"),
    ("nodes-too-small", _net(nodes="10.224.0.0/30"), "network.nodes"),
    ("nodes-host-bits", _net(nodes="10.224.0.1/16"), "network.nodes"),
    ("pods-overlap-vnet", _net(pods="10.225.0.0/16"), "network.pods"),
    ("pods-too-small", _net(pods="10.244.0.0/25"), "network.pods"),
    (
        "services-overlap-vnet",
        _net(services="10.224.0.0/16", dns_service_ip="10.224.0.10"),
        "network.services",
    ),
    (
        "services-overlap-pods",
        _net(services="10.244.0.0/16", dns_service_ip="10.244.0.10"),
        "network.services",
    ),
    (
        "services-too-big",
        _net(services="10.0.0.0/11", dns_service_ip="10.0.0.10"),
        "network.services",
    ),
    (
        "services-reserved",
        _net(services="172.31.0.0/16", dns_service_ip="172.31.0.10"),
        "network.services",
    ),
    ("services-public", _net(services="8.8.0.0/16", dns_service_ip="8.8.0.10"), "network.services"),
    ("dns-ip-outside", _net(dns_service_ip="10.1.0.10"), "network.dns_service_ip"),
    ("dns-ip-first-host", _net(dns_service_ip="10.0.0.1"), "network.dns_service_ip"),
    ("dns-ip-not-an-ip", _net(dns_service_ip="ten"), "network.dns_service_ip"),
    (
        "pods-too-few-nodes",
        _both(_net(pods="10.244.0.0/22"), _pool(1, max_count=6)),
        "network.pods",
    ),
    ("no-pools", lambda p: p.update(node_pools=[]), "node_pools"),
    ("first-pool-user", _pool(0, mode="User"), "node_pools[0].mode"),
    ("pool-name-upper", _pool(1, name="Spot"), "node_pools[1].name"),
    ("pool-name-long", _pool(1, name="spotpoolnumber1"), "node_pools[1].name"),
    ("pool-name-twice", _pool(1, name="system"), "node_pools[1].name"),
    ("vm-size", _pool(0, vm_size="d4s_v5"), "node_pools[0].vm_size"),
    ("system-min-zero", _pool(0, min_count=0), "node_pools[0].min_count"),
    ("user-min-negative", _pool(1, min_count=-1), "node_pools[1].min_count"),
    ("max-below-min", _pool(0, max_count=1), "node_pools[0].max_count"),
    ("max-too-big", _pool(1, max_count=1001), "node_pools[1].max_count"),
    ("count-outside", _pool(0, count=9), "node_pools[0].count"),
    ("system-spot", _pool(0, spot=True), "node_pools[0].spot"),
    ("zone-4", _pool(0, zones=["4"]), "node_pools[0].zones[0]"),
    ("zone-twice", _pool(0, zones=["1", "1"]), "node_pools[0].zones[1]"),
    ("disk-small", _pool(1, os_disk_size_gb=16), "node_pools[1].os_disk_size_gb"),
    ("max-pods", _pool(1, max_pods=251), "node_pools[1].max_pods"),
    ("version", lambda p: None, "$.cluster.kubernetes_version"),
    (
        "authorized-everyone",
        lambda p: p.update(authorized_ip_ranges=["0.0.0.0/0"]),
        "authorized_ip_ranges[0]",
    ),
    (
        "authorized-private",
        lambda p: p.update(authorized_ip_ranges=["10.1.0.0/16"]),
        "authorized_ip_ranges[0]",
    ),
    (
        "authorized-ipv6",
        lambda p: p.update(authorized_ip_ranges=["2001:db8::/32"]),
        "authorized_ip_ranges[0]",
    ),
    (
        "authorized-private-cluster",
        lambda p: p.update(private_cluster=True),
        "authorized_ip_ranges",
    ),
    ("account-upper", _state(storage_account="AcmeState"), "state.storage_account"),
    ("account-long", _state(storage_account="a" * 25), "state.storage_account"),
    ("account-hyphen", _state(storage_account="acme-state"), "state.storage_account"),
    ("container-upper", _state(container="TFState"), "state.container"),
    ("container-double-hyphen", _state(container="tf--state"), "state.container"),
    ("container-short", _state(container="tf"), "state.container"),
    ("container-trailing-hyphen", _state(container="tfstate-"), "state.container"),
    ("tag-key-slash", lambda p: p.update(tags={"team/name": "x"}), "tags.team/name"),
    ("tag-key-long", lambda p: p.update(tags={"k" * 129: "x"}), f"tags.{'k' * 129}"),
    ("tag-value-long", lambda p: p.update(tags={"team": "v" * 257}), "tags.team"),
    ("too-many-tags", lambda p: p.update(tags={f"t{i}": "x" for i in range(51)}), "tags"),
]


@pytest.mark.parametrize(
    ("change", "path"), [(c, p) for _, c, p in BAD], ids=[i for i, _, _ in BAD]
)
def test_bad_input_names_its_path(change: Change, path: str) -> None:
    document = example()
    change(document["cluster"]["provider"])
    if path == "$.cluster.kubernetes_version":
        document["cluster"]["kubernetes_version"] = "1.20"
    full = path if path.startswith("$") else f"$.cluster.provider.{path}"
    issues = _issues(document)
    assert full in issues, issues


def test_unknown_key_is_refused() -> None:
    document = example()
    document["cluster"]["provider"]["node_pools"][0]["vmSize"] = "Standard_D4s_v5"
    assert any("node_pools[0]" in path for path in _issues(document))


def test_every_credential_kind_is_accepted_alone() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
    for kind, value in (
        ("client_certificate", {"secret": "azure-client-secret"}),
        ("client_assertion", {"secret": "azure-client-secret"}),
        ("workload_identity", True),
    ):
        document = example()
        provider = document["cluster"]["provider"]
        provider.pop("client_secret")
        provider[kind] = value
        if kind == "workload_identity":
            document.pop("secrets", None)
        plugins.loader.load(document)


def test_validate_exits_2_naming_the_path(tmp_path: Path) -> None:
    document = example()
    document["cluster"]["provider"]["network"]["services"] = "10.224.0.0/16"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    result = run_qengine(tmp_path, "validate", str(bad), plugins="azure")
    assert result.returncode == 2, result.stderr
    assert "$.cluster.provider.network.services" in result.stderr + result.stdout


def test_validate_accepts_the_example(tmp_path: Path) -> None:
    result = run_qengine(tmp_path, "validate", str(EXAMPLE), plugins="azure")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("owner", '${file("/etc/passwd")}'),
        ("owner", "%{ for x in [1] }x%{ endfor }"),
        ("a${b}", "v"),
    ],
)
def test_a_tag_never_becomes_terraform_template_code(key: str, value: str) -> None:
    document = example()
    document["cluster"]["provider"].setdefault("tags", {})[key] = value

    issues = _issues(document)

    assert "template sequences" in issues.get(f"$.cluster.provider.tags.{key}", ""), issues


_GUID = "12345678-90ab-cdef-1234-567890abcdef"
_IDENTITY: dict[str, Any] = {
    "tenant_id": "contoso.onmicrosoft.com",
    "client_id": _GUID,
    "client_secret": {"secret": "a"},
    "client_assertion": {"secret": "b"},
}


def _with_dns(document: dict[str, Any]) -> None:
    document["dns"] = {
        "kind": "azure-dns",
        "subscription_id": _GUID,
        "resource_group": "rg-dns",
        "zone": "example.com",
        **_IDENTITY,
    }


def _with_acr(document: dict[str, Any]) -> None:
    document["registry"] = {"kind": "acr", "name": "contosoapps", **_IDENTITY}


def _with_provider(document: dict[str, Any]) -> None:
    provider = document["cluster"]["provider"]
    provider.pop("client_secret")
    provider.update(_IDENTITY)


@pytest.mark.parametrize(
    ("base", "change"),
    [
        ("$.cluster.provider", _with_provider),
        ("$.dns", _with_dns),
        ("$.registry", _with_acr),
    ],
    ids=["provider", "dns", "registry"],
)
def test_the_shared_identity_is_checked_at_each_sections_own_path(
    base: str, change: Callable[[dict[str, Any]], None]
) -> None:
    document = example()
    change(document)
    issues = _issues(document)
    assert issues[f"{base}.tenant_id"].startswith("must be a GUID")
    assert issues[f"{base}.client_assertion"].startswith("give one credential only")
    assert [path for path in issues if path.endswith(".tenant_id")] == [f"{base}.tenant_id"]


def test_the_three_sections_share_one_identity_definition(tmp_path: Path) -> None:
    import inspect

    import attrs
    from qengine_azure.spec import AcrRegistry, AzureDns, AzureIdentity

    shared = [field.name for field in attrs.fields(AzureIdentity) if field.name != "kind"]
    sections = (AzureProvider, AzureDns, AcrRegistry)
    for section in sections:
        assert issubclass(section, AzureIdentity)
        assert not set(shared) & set(inspect.get_annotations(section))  # declared once
    # The schema (and so the reference) documents every inherited field, in each section.
    done = run_qengine(tmp_path, "schema", plugins="azure")
    assert done.returncode == 0, done.stderr
    definitions = json.loads(done.stdout)["$defs"]
    for section in sections:
        properties = definitions[section.__name__]["properties"]
        assert next(iter(properties)) == "kind"
        for name in shared:
            expected = definitions["AzureProvider"]["properties"][name]["description"]
            assert len(expected) > 5
            assert properties[name]["description"] == expected
