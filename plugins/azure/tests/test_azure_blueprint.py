"""The AKS blueprint against its data file (the pinned azurerm provider's arguments and
attributes), its security settings, and ``qengine export`` writing the real root module."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from azure_support import DEMO_SECRET, EXAMPLES, example, run_qengine
from qengine_azure.blueprint import AZURERM, BLUEPRINT_DATA, OUTPUTS, aks_root_module
from qengine_azure.sandbox import PLACEHOLDER_CLUSTER, sandbox_root_module

from qengine import load_plugins
from qengine.spec import InfrastructureJob

_REFERENCE = re.compile(r"\b((?:data\.)?azurerm_[a-z_]+)\.([a-z_]+)\.([a-z_]+)")


def _job(document: dict[str, Any] | None = None) -> InfrastructureJob:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
    job = plugins.loader.load(document or example())
    assert isinstance(job, InfrastructureJob)
    return job


def _uses_only_documented_names(kind: str, body: dict[str, Any], entry: dict[str, Any]) -> None:
    blocks = entry.get("blocks", {})
    for name, value in body.items():
        if name == "lifecycle":
            continue
        if name in blocks:
            for block in value:
                unknown = set(block) - set(blocks[name])
                assert not unknown, f"{kind}.{name} uses {unknown}"
        else:
            assert name in entry["arguments"], f"{kind} has no argument {name!r}"


@pytest.mark.parametrize(
    ("create_group", "dns"),
    [(True, ""), (False, ""), (True, "http01"), (True, "dns01")],
    ids=["new-group", "existing-group", "external-dns-identity", "cert-manager-identity"],
)
def test_the_module_uses_only_what_the_data_file_lists(create_group: bool, dns: str) -> None:
    document = example()
    document["cluster"]["provider"]["resource_group"]["create"] = create_group
    if dns:
        document["dns"] = dict(DNS)
        document["cluster"]["addons"] = {"acme_challenge": dns}
    module = aks_root_module(_job(document))
    resources = BLUEPRINT_DATA["resources"]
    for kind, instances in module["resource"].items():
        assert kind in resources, f"{kind} is not in azurerm.json"
        for body in instances.values():
            _uses_only_documented_names(kind, body, resources[kind])
    for kind, instances in module.get("data", {}).items():
        for body in instances.values():
            _uses_only_documented_names(kind, body, BLUEPRINT_DATA["data"][kind])
    assert set(module["provider"]["azurerm"]) <= set(BLUEPRINT_DATA["provider_arguments"])
    # Every attribute an expression reads is one the data file lists for its type.
    text = json.dumps(module)
    for kind, _name, attribute in _REFERENCE.findall(text):
        table = BLUEPRINT_DATA["data"] if kind.startswith("data.") else resources
        listed = table[kind.removeprefix("data.")]
        assert attribute in listed["attributes"], f"{kind} has no attribute {attribute!r}"


def test_the_provider_is_pinned_exactly() -> None:
    module = aks_root_module(_job())
    pinned = module["terraform"]["required_providers"]["azurerm"]
    assert pinned == {"source": "hashicorp/azurerm", "version": AZURERM}
    assert re.fullmatch(r"4\.\d+\.\d+", AZURERM)
    assert module["terraform"]["backend"] == {"azurerm": {}}


def test_the_cluster_has_workload_identity_oidc_and_no_local_accounts() -> None:
    cluster = aks_root_module(_job())["resource"]["azurerm_kubernetes_cluster"]["cluster"]
    assert cluster["oidc_issuer_enabled"] is True
    assert cluster["workload_identity_enabled"] is True
    assert cluster["local_account_disabled"] is True
    assert cluster["azure_active_directory_role_based_access_control"][0]["azure_rbac_enabled"]
    network = cluster["network_profile"][0]
    assert network["network_plugin_mode"] == "overlay"
    assert network["pod_cidr"] == "10.244.0.0/16"
    assert network["dns_service_ip"] == "10.0.0.10"
    assert cluster["api_server_access_profile"][0]["authorized_ip_ranges"] == ["203.0.113.0/24"]
    pool = cluster["default_node_pool"][0]
    assert pool["name"] == "system"
    assert pool["zones"] == ["1", "2", "3"]
    assert (pool["min_count"], pool["max_count"], pool["node_count"]) == (2, 4, 2)


def test_a_spot_pool_declares_what_aks_adds() -> None:
    pools = aks_root_module(_job())["resource"]["azurerm_kubernetes_cluster_node_pool"]
    spot = pools["spot"]
    assert spot["priority"] == "Spot"
    assert spot["eviction_policy"] == "Delete"
    assert "kubernetes.azure.com/scalesetpriority=spot:NoSchedule" in spot["node_taints"]
    assert spot["min_count"] == 0
    assert spot["node_count"] == 1


def test_real_and_sandbox_modules_have_the_same_outputs_and_variables() -> None:
    job = _job()
    real, stand_in = aks_root_module(job), sandbox_root_module(job, PLACEHOLDER_CLUSTER)
    assert set(real["output"]) == set(stand_in["output"]) == set(OUTPUTS)
    assert real["variable"] == stand_in["variable"]
    assert stand_in["terraform"]["backend"] == {"azurerm": {}}
    assert set(stand_in["resource"]) == {"terraform_data"}


def test_export_writes_the_real_module_without_credentials(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_qengine(
        tmp_path, "export", str(EXAMPLES / "job.json"), "--out-dir", str(out), plugins="azure"
    )
    assert result.returncode == 0, result.stderr
    target = out / "terraform" / "azure"
    module = json.loads((target / "main.tf.json").read_text())
    assert module == aks_root_module(_job())
    backend = json.loads((target / "backend.tfbackend.json").read_text())
    assert backend["storage_account_name"] == "acmeqestateweu"
    assert backend["use_azuread_auth"] is True
    readme = (target / "README.md").read_text()
    assert "terraform init -backend-config=backend.tfbackend.json" in readme
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert DEMO_SECRET not in text
            assert "terraform_data" not in text


DNS = {
    "kind": "azure-dns",
    "subscription_id": "00000000-0000-0000-0000-0000000000d5",
    "tenant_id": "00000000-0000-0000-0000-00000000000e",
    "client_id": "00000000-0000-0000-0000-0000000000c1",
    "workload_identity": True,
    "resource_group": "dns-rg",
    "zone": "prod.example.com",
}
ZONE = (
    "/subscriptions/00000000-0000-0000-0000-0000000000d5/resourceGroups/dns-rg"
    "/providers/Microsoft.Network/dnsZones/prod.example.com"
)


def _with_dns(**addons: Any) -> InfrastructureJob:
    document = example()
    document["dns"] = dict(DNS)
    if addons:
        document["cluster"]["addons"] = addons
    return _job(document)


def test_external_dns_identity_is_federated_with_its_service_account_only() -> None:
    module = aks_root_module(_with_dns())
    identity = module["resource"]["azurerm_user_assigned_identity"]["external_dns"]
    assert identity["name"] == "${var.cluster_name}-external-dns"
    [credential] = module["resource"]["azurerm_federated_identity_credential"].values()
    assert credential["parent_id"] == "${azurerm_user_assigned_identity.external_dns.id}"
    assert credential["issuer"] == "${azurerm_kubernetes_cluster.cluster.oidc_issuer_url}"
    assert credential["subject"] == "system:serviceaccount:qengine-system:external-dns"
    assert credential["audience"] == ["api://AzureADTokenExchange"]
    from qengine_addons import service_account_subject

    assert credential["subject"] == service_account_subject("external-dns")
    assert module["output"]["external_dns_client_id"] == {
        "value": "${azurerm_user_assigned_identity.external_dns.client_id}"
    }


def test_external_dns_may_change_the_zone_only_and_read_its_group() -> None:
    module = aks_root_module(_with_dns())
    assignments = module["resource"]["azurerm_role_assignment"]
    principal = "${azurerm_user_assigned_identity.external_dns.principal_id}"
    assert {a["principal_id"] for a in assignments.values()} == {principal}
    assert {a["scope"]: a["role_definition_name"] for a in assignments.values()} == {
        ZONE: "DNS Zone Contributor",
        ZONE.split("/providers/")[0]: "Reader",
    }
    # The values external-dns gets point at the same zone's subscription and group.
    from qengine_addons import addon_values, load_freeze

    values = addon_values(load_freeze().get("external-dns"), _with_dns())
    config = json.loads(values["secretConfiguration"]["data"]["azure.json"])
    assert config == {
        "tenantId": DNS["tenant_id"], "subscriptionId": DNS["subscription_id"],
        "resourceGroup": "dns-rg", "useWorkloadIdentityExtension": True,
    }  # fmt: skip
    assert values["podLabels"] == {"azure.workload.identity/use": "true"}
    assert values["provider"] == {"name": "azure"}


@pytest.mark.parametrize(
    "addons", [{"external_dns": False}, {"manage": False}], ids=["off", "unmanaged"]
)
def test_no_external_dns_identity_without_external_dns(addons: dict[str, Any]) -> None:
    assert "external_dns" not in json.dumps(aks_root_module(_with_dns(**addons)))
    assert "external_dns" not in json.dumps(aks_root_module(_job()))  # no dns section


def test_the_sandbox_module_has_the_client_id_output_too() -> None:
    job = _with_dns()
    real, stand_in = aks_root_module(job), sandbox_root_module(job, PLACEHOLDER_CLUSTER)
    assert set(real["output"]) == set(stand_in["output"]) == {*OUTPUTS, "external_dns_client_id"}
    identity = stand_in["resource"]["terraform_data"]["external_dns_identity"]["input"]
    assert identity["subject"] == "system:serviceaccount:qengine-system:external-dns"
    assert identity["roles"][ZONE] == "DNS Zone Contributor"


def test_cert_manager_identity_for_dns01_is_federated_with_its_account_and_scoped_to_the_zone() -> (
    None
):
    module = aks_root_module(_with_dns(acme_challenge="dns01"))
    identity = module["resource"]["azurerm_user_assigned_identity"]["cert_manager"]
    assert identity["name"] == "${var.cluster_name}-cert-manager"
    credential = module["resource"]["azurerm_federated_identity_credential"]["cert_manager"]
    assert credential["parent_id"] == "${azurerm_user_assigned_identity.cert_manager.id}"
    assert credential["issuer"] == "${azurerm_kubernetes_cluster.cluster.oidc_issuer_url}"
    assert credential["subject"] == "system:serviceaccount:qengine-system:cert-manager"
    assert credential["audience"] == ["api://AzureADTokenExchange"]
    from qengine_addons import service_account_subject

    assert credential["subject"] == service_account_subject("cert-manager")
    principal = "${azurerm_user_assigned_identity.cert_manager.principal_id}"
    mine = [
        a for a in module["resource"]["azurerm_role_assignment"].values()
        if a["principal_id"] == principal
    ]  # fmt: skip
    # DNS Zone Contributor on the zone, nothing on its group: the solver names the zone.
    assert [(a["scope"], a["role_definition_name"]) for a in mine] == [
        (ZONE, "DNS Zone Contributor")
    ]
    assert module["output"]["cert_manager_client_id"] == {
        "value": "${azurerm_user_assigned_identity.cert_manager.client_id}"
    }
    # external-dns keeps its own identity beside it.
    assert "external_dns" in module["resource"]["azurerm_user_assigned_identity"]


@pytest.mark.parametrize("addons", [{}, {"manage": False}], ids=["http01", "unmanaged"])
def test_no_cert_manager_identity_unless_the_issuers_solve_dns01(addons: dict[str, Any]) -> None:
    assert "cert_manager" not in json.dumps(aks_root_module(_with_dns(**addons)))


def test_the_sandbox_module_has_cert_managers_client_id_output_too() -> None:
    job = _with_dns(acme_challenge="dns01")
    real, stand_in = aks_root_module(job), sandbox_root_module(job, PLACEHOLDER_CLUSTER)
    wanted = {*OUTPUTS, "external_dns_client_id", "cert_manager_client_id"}
    assert set(real["output"]) == set(stand_in["output"]) == wanted
    identity = stand_in["resource"]["terraform_data"]["cert_manager_identity"]["input"]
    assert identity["subject"] == "system:serviceaccount:qengine-system:cert-manager"
    assert identity["roles"] == {ZONE: "DNS Zone Contributor"}


def test_dns01_on_aks_is_refused_for_a_zone_that_is_not_azure_dns() -> None:
    from qengine import SpecError, load_plugins

    document = example()
    document["dns"] = {"kind": "route53", "zone": "prod.example.com"}
    document["cluster"]["addons"] = {"acme_challenge": "dns01"}
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure,aws"})
    with pytest.raises(SpecError) as refused:
        plugins.loader.load(document)
    assert "$.cluster.addons.acme_challenge: is dns01 with a route53 zone" in str(refused.value)
