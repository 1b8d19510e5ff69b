"""The GKE blueprint against the pinned modules' documented interfaces (modules.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from gcp_support import example
from qengine_gcp.blueprint import OUTPUTS, BlueprintOptions, gke_root_module
from qengine_gcp.modules import GKE, NETWORK, pinned
from qengine_gcp.sandbox import PLACEHOLDER_CLUSTER, sandbox_root_module

from qengine import load_plugins
from qengine.spec import InfrastructureJob

_META = ("source", "version")


def _job(change: Any = None) -> InfrastructureJob:
    document = example()
    if change is not None:
        change(document["cluster"]["provider"])
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def test_the_modules_are_pinned_to_exact_versions_with_their_requirements() -> None:
    gke, network = pinned(GKE), pinned(NETWORK)
    assert re.fullmatch(r"\d+\.\d+\.\d+", gke.version)
    assert gke.version.startswith("44.")
    assert gke.providers["google"] == {"source": "hashicorp/google", "version": ">= 7.17.0, < 8"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", network.version)
    assert {"node_pools", "master_authorized_networks"} <= set(gke.nested)
    assert {"subnets", "secondary_ranges"} <= set(network.nested)


@pytest.mark.parametrize("name", ["vpc", "gke"])
def test_every_module_input_the_blueprint_sets_is_documented(name: str) -> None:
    block = gke_root_module(_job())["module"][name]
    module = pinned(GKE if name == "gke" else NETWORK)
    assert block["source"] == module.source
    assert block["version"] == module.version
    assert set(block) - set(_META) <= module.inputs


def test_map_inputs_use_only_documented_keys() -> None:
    root = gke_root_module(_job(lambda p: p.update(zones=["europe-west1-b"])))
    gke, network = pinned(GKE), pinned(NETWORK)
    for pool in root["module"]["gke"]["node_pools"]:
        assert set(pool) <= gke.nested["node_pools"]
    for entry in root["module"]["gke"]["master_authorized_networks"]:
        assert set(entry) == gke.nested["master_authorized_networks"]
    for subnet in root["module"]["vpc"]["subnets"]:
        assert set(subnet) <= network.nested["subnets"]
    for ranges in root["module"]["vpc"]["secondary_ranges"].values():
        for entry in ranges:
            assert set(entry) <= network.nested["secondary_ranges"]


def test_every_module_output_read_is_documented() -> None:
    text = json.dumps(gke_root_module(_job()))
    for name, source in (("gke", GKE), ("vpc", NETWORK)):
        used = set(re.findall(rf"module\.{name}\.(\w+)", text))
        assert used, name
        assert used <= pinned(source).outputs


def test_the_cluster_is_standard_private_vpc_native_with_workload_identity() -> None:
    root = gke_root_module(_job())
    gke, vpc = root["module"]["gke"], root["module"]["vpc"]
    assert root["terraform"]["backend"] == {"gcs": {}}
    assert gke["identity_namespace"] == "enabled"
    assert gke["enable_private_nodes"] is True
    assert gke["remove_default_node_pool"] is True
    assert gke["release_channel"] == "REGULAR"
    assert gke["master_ipv4_cidr_block"] == "172.16.0.16/28"
    assert gke["master_authorized_networks"] == [
        {"cidr_block": "203.0.113.0/24", "display_name": "office"}
    ]
    ranges = vpc["secondary_ranges"]["prod-europe-nodes"]
    assert ranges == [
        {"range_name": "prod-europe-pods", "ip_cidr_range": "10.48.0.0/14"},
        {"range_name": "prod-europe-services", "ip_cidr_range": "10.52.0.0/20"},
    ]
    assert (gke["ip_range_pods"], gke["ip_range_services"]) == (
        "prod-europe-pods",
        "prod-europe-services",
    )
    assert vpc["subnets"][0]["subnet_ip"] == "10.40.0.0/20"
    assert "google_compute_router_nat" in root["resource"]
    spot = gke["node_pools"][1]
    assert (spot["spot"], spot["min_count"], spot["max_count"]) == (True, 0, 6)


def test_a_paused_blueprint_lets_every_pool_go_to_zero_and_keeps_the_maximum() -> None:
    pools = gke_root_module(_job(), BlueprintOptions(paused=True))["module"]["gke"]["node_pools"]
    assert [(p["min_count"], p["max_count"]) for p in pools] == [(0, 4), (0, 6)]


def test_public_nodes_need_no_nat_and_channel_none_pins_the_version() -> None:
    root = gke_root_module(_job(lambda p: p.update(private_nodes=False, release_channel="none")))
    assert "resource" not in root
    assert root["module"]["gke"]["release_channel"] == "UNSPECIFIED"
    assert all(not pool["auto_upgrade"] for pool in root["module"]["gke"]["node_pools"])


def test_a_module_directory_replaces_the_registry(tmp_path: Path) -> None:
    root = gke_root_module(_job(), module_dir=tmp_path)
    gke = root["module"]["gke"]
    expected = tmp_path.resolve() / "terraform-google-modules/kubernetes-engine/google"
    assert gke["source"] == str(expected / pinned(GKE).version / "modules/private-cluster")
    assert "version" not in gke


def test_the_sandbox_module_has_the_real_ones_outputs_and_variables() -> None:
    job = _job()
    real, stand_in = gke_root_module(job), sandbox_root_module(job, PLACEHOLDER_CLUSTER)
    assert set(real["output"]) == set(stand_in["output"]) == set(OUTPUTS)
    assert real["variable"] == stand_in["variable"]
    assert stand_in["terraform"]["backend"] == real["terraform"]["backend"]
    assert set(stand_in["resource"]) == {"terraform_data"}


DNS = {
    "kind": "cloud-dns",
    "project": "acme-dns",
    "zone": "prod.example.com",
    "service_account": "qengine-dns@acme-dns.iam.gserviceaccount.com",
}


def _with_dns(dns: dict[str, Any] | None = None, **addons: Any) -> InfrastructureJob:
    document = example()
    document["dns"] = dict(dns or DNS)
    if addons:
        document["cluster"]["addons"] = addons
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def test_external_dns_account_is_usable_by_its_kubernetes_service_account_only() -> None:
    root = gke_root_module(_with_dns())
    account = root["resource"]["google_service_account"]["external_dns"]
    assert re.fullmatch(r"external-dns-[0-9a-f]{10}", account["account_id"])
    assert account["project"] == "${var.project_id}"
    [binding] = root["resource"]["google_service_account_iam_member"].values()
    assert binding == {
        "service_account_id": "${google_service_account.external_dns.name}",
        "role": "roles/iam.workloadIdentityUser",
        "member": "serviceAccount:${module.gke.identity_namespace}[qengine-system/external-dns]",
    }
    from qengine_addons import service_account_subject

    assert service_account_subject("external-dns").endswith(":qengine-system:external-dns")
    assert root["output"]["external_dns_service_account"] == {
        "value": "${google_service_account.external_dns.email}"
    }


def test_external_dns_may_change_the_zone_only_and_list_the_zones() -> None:
    root = gke_root_module(_with_dns())
    member = "serviceAccount:${google_service_account.external_dns.email}"
    zones = root["resource"]["google_dns_managed_zone_iam_member"]
    assert list(zones) == ["external_dns"]
    zone = zones["external_dns"]
    assert (zone["project"], zone["role"]) == ("acme-dns", "roles/dns.admin")
    assert zone["member"] == member
    # The public zone of that DNS name in the zone's project, looked up by Terraform.
    assert root["data"] == {"google_dns_managed_zones": {"dns": {"project": "acme-dns"}}}
    assert 'z.dns_name == "prod.example.com."' in zone["managed_zone"]
    assert 'z.visibility == "public"' in zone["managed_zone"]
    projects = root["resource"]["google_project_iam_member"]
    assert projects == {
        "external_dns_zones": {"project": "acme-dns", "role": "roles/dns.reader", "member": member}
    }
    # No other binding anywhere in the module names the account.
    bound = [
        (kind, name)
        for kind, blocks in root["resource"].items()
        for name, block in blocks.items()
        if block.get("member") == member
    ]
    assert sorted(bound) == [
        ("google_dns_managed_zone_iam_member", "external_dns"),
        ("google_project_iam_member", "external_dns_zones"),
    ]


def test_external_dns_is_told_the_zones_project_where_its_grants_are() -> None:
    """A zone in another project than the cluster's: the account lives in the cluster's
    project, its grants in the zone's, and external-dns's values name the zone's project (its
    own default is the project its pod runs in) and public zones, as the lookup does."""
    assert example()["cluster"]["provider"]["project"] == "acme-platform-prod"
    job = _with_dns()
    root = gke_root_module(job)
    assert root["resource"]["google_service_account"]["external_dns"]["project"] == (
        "${var.project_id}"
    )
    granted = {
        block["project"]
        for kind in ("google_dns_managed_zone_iam_member", "google_project_iam_member")
        for block in root["resource"][kind].values()
    }
    assert granted == {"acme-dns"}
    from qengine_addons import addon_values, load_freeze

    values = addon_values(load_freeze().get("external-dns"), job)
    assert values["provider"] == {"name": "google"}
    assert values["extraArgs"] == {
        "google-project": "acme-dns",
        "google-zone-visibility": "public",
    }
    assert values["domainFilters"] == ["prod.example.com"]


def test_a_managed_zone_name_is_bound_without_a_lookup() -> None:
    root = gke_root_module(_with_dns({**DNS, "managed_zone": "prod-zone"}))
    zone = root["resource"]["google_dns_managed_zone_iam_member"]["external_dns"]
    assert zone["managed_zone"] == "prod-zone"
    assert "data" not in root


@pytest.mark.parametrize(
    ("dns", "addons"),
    [(None, {"external_dns": False}), (None, {"manage": False})],
    ids=["off", "unmanaged"],
)
def test_no_external_dns_account_without_external_dns(
    dns: dict[str, Any] | None, addons: dict[str, Any]
) -> None:
    root = gke_root_module(_with_dns(dns, **addons))
    assert "external_dns" not in json.dumps(root)
    assert "external_dns" not in json.dumps(gke_root_module(_job()))  # no dns section


def test_the_sandbox_module_has_the_account_output_too() -> None:
    job = _with_dns()
    real, stand_in = gke_root_module(job), sandbox_root_module(job, PLACEHOLDER_CLUSTER)
    wanted = {*OUTPUTS, "external_dns_service_account"}
    assert set(real["output"]) == set(stand_in["output"]) == wanted
    account = stand_in["resource"]["terraform_data"]["external_dns_account"]["input"]
    assert account["workload_identity_member"] == (
        "serviceAccount:${var.project_id}.svc.id.goog[qengine-system/external-dns]"
    )
    assert account["email"].startswith(account["account_id"] + "@")


CERT_MANAGER = "serviceAccount:${google_service_account.cert_manager.email}"


def _bound(root: dict[str, Any], member: str) -> list[tuple[str, str, str]]:
    return sorted(
        (kind, name, block["role"])
        for kind, blocks in root["resource"].items()
        for name, block in blocks.items()
        if isinstance(block, dict) and block.get("member") == member
    )


def test_cert_manager_account_for_dns01_is_usable_by_its_kubernetes_service_account_only() -> None:
    root = gke_root_module(_with_dns({**DNS, "managed_zone": "prod-zone"}, acme_challenge="dns01"))
    account = root["resource"]["google_service_account"]["cert_manager"]
    assert re.fullmatch(r"cert-manager-[0-9a-f]{10}", account["account_id"])
    assert account["project"] == "${var.project_id}"
    binding = root["resource"]["google_service_account_iam_member"][
        "cert_manager_workload_identity"
    ]
    assert binding == {
        "service_account_id": "${google_service_account.cert_manager.name}",
        "role": "roles/iam.workloadIdentityUser",
        "member": "serviceAccount:${module.gke.identity_namespace}[qengine-system/cert-manager]",
    }
    from qengine_addons import service_account_subject

    assert service_account_subject("cert-manager").endswith(":qengine-system:cert-manager")
    assert root["output"]["cert_manager_service_account"] == {
        "value": "${google_service_account.cert_manager.email}"
    }
    # With the managed zone named, the solver names it too: dns.admin on that zone, nothing on
    # the project.
    zone = root["resource"]["google_dns_managed_zone_iam_member"]["cert_manager"]
    assert (zone["project"], zone["managed_zone"]) == ("acme-dns", "prod-zone")
    assert _bound(root, CERT_MANAGER) == [
        ("google_dns_managed_zone_iam_member", "cert_manager", "roles/dns.admin")
    ]
    # external-dns keeps its own account and bindings beside it.
    assert "external_dns" in root["resource"]["google_service_account"]


def test_cert_manager_lists_the_projects_zones_only_when_the_zone_is_looked_up() -> None:
    root = gke_root_module(_with_dns(acme_challenge="dns01", external_dns=False))
    assert _bound(root, CERT_MANAGER) == [
        ("google_dns_managed_zone_iam_member", "cert_manager", "roles/dns.admin"),
        ("google_project_iam_member", "cert_manager_zones", "roles/dns.reader"),
    ]
    zone = root["resource"]["google_dns_managed_zone_iam_member"]["cert_manager"]
    assert 'z.dns_name == "prod.example.com."' in zone["managed_zone"]
    assert root["data"] == {"google_dns_managed_zones": {"dns": {"project": "acme-dns"}}}
    assert "external_dns" not in json.dumps(root)


@pytest.mark.parametrize("addons", [{}, {"manage": False}], ids=["http01", "unmanaged"])
def test_no_cert_manager_account_unless_the_issuers_solve_dns01(addons: dict[str, Any]) -> None:
    root = gke_root_module(_with_dns(None, **addons))
    assert "cert_manager" not in json.dumps(root)


def test_the_sandbox_module_has_cert_managers_account_output_too() -> None:
    job = _with_dns(acme_challenge="dns01")
    real, stand_in = gke_root_module(job), sandbox_root_module(job, PLACEHOLDER_CLUSTER)
    wanted = {*OUTPUTS, "external_dns_service_account", "cert_manager_service_account"}
    assert set(real["output"]) == set(stand_in["output"]) == wanted
    account = stand_in["resource"]["terraform_data"]["cert_manager_account"]["input"]
    assert account["workload_identity_member"] == (
        "serviceAccount:${var.project_id}.svc.id.goog[qengine-system/cert-manager]"
    )
    assert account["project_role"] == "roles/dns.reader"  # the zone is looked up here


def test_dns01_on_gke_is_refused_for_a_zone_that_is_not_cloud_dns() -> None:
    from qengine import SpecError

    document = example()
    document["dns"] = {"kind": "route53", "zone": "prod.example.com"}
    document["cluster"]["addons"] = {"acme_challenge": "dns01"}
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,aws"})
    with pytest.raises(SpecError) as refused:
        plugins.loader.load(document)
    assert "$.cluster.addons.acme_challenge: is dns01 with a route53 zone" in str(refused.value)


def test_the_node_service_account_reads_the_jobs_artifact_registry() -> None:
    document = example()
    document["registry"] = {
        "kind": "artifact-registry",
        "project": "acme-images",
        "location": "europe-west1",
        "service_account": "qengine-builder@acme-images.iam.gserviceaccount.com",
    }
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"})
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    gke = gke_root_module(job)["module"]["gke"]
    assert gke["grant_registry_access"] is True
    assert gke["registry_project_ids"] == ["acme-images"]
    assert {"grant_registry_access", "registry_project_ids"} <= pinned(GKE).inputs
    # The module creates the node service account these roles go to (its default).
    assert "service_account" not in gke
    assert gke.get("create_service_account", True) is True
    plain = gke_root_module(_job())["module"]["gke"]
    assert "grant_registry_access" not in plain
