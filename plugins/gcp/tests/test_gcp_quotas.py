"""Preflight against the local GKE stand-in's Compute calls (regions.get, projects.get,
machineTypes.get) and the Container API's clusters.get, through the official clients: zones,
machine types, and the regional and project-wide quotas in force."""

from __future__ import annotations

from typing import Any

import pytest
from gcp_support import access_for, example
from qengine_gcp.local_gcs import LocalGcs
from qengine_gcp.quotas import check_room_for_cluster
from qengine_gcp.sandbox import PLACEHOLDER_CLUSTER, SANDBOX_TOKEN
from qengine_gcp.sandbox_gke import LocalGke
from qengine_gcp.settings import GcpSettings

from qengine import Engine, load_plugins
from qengine.plugin import InvalidInputError, QuotaError
from qengine.runner import JobStatus, MemoryStateStore
from qengine.spec import InfrastructureJob

ROOMY = {
    "CPUS": (96.0, 0.0),
    "PREEMPTIBLE_CPUS": (0.0, 0.0),
    "SSD_TOTAL_GB": (4096.0, 0.0),
    "DISKS_TOTAL_GB": (4096.0, 0.0),
    "IN_USE_ADDRESSES": (8.0, 0.0),
}


#: The example's project-wide needs: private nodes, two node pools, 24 first vCPUs.
NEEDS = {
    "NETWORKS": 1,
    "SUBNETWORKS": 1,
    "FIREWALLS": 3,
    "ROUTERS": 1,
    "INSTANCE_TEMPLATES": 2,
    "CPUS_ALL_REGIONS": 24,
}
PROJECT_ROOMY = {metric: (100.0, 0.0) for metric in NEEDS}


def _check(gke: LocalGke, change: Any = None) -> str:
    document = example()
    if change is not None:
        change(document["cluster"]["provider"])
    settings = GcpSettings(container_endpoint=gke.url, sandbox_token=SANDBOX_TOKEN)
    access = access_for(document, settings)
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return check_room_for_cluster(access, job)


def test_room_enough_says_so_and_warns_of_the_maximum() -> None:
    with LocalGke(quotas=dict(ROOMY, CPUS=(96.0, 40.0))) as gke:
        summary = _check(gke)
    # First nodes: 2 per zone x 3 zones x 4 vCPUs = 24 of 56 free. At their maximum the
    # pools (4 + 6 per zone, spot on CPUS: no spot quota) need 120.
    assert "leave room for the cluster and its first nodes" in summary
    assert "would exceed CPUS" in summary


def test_too_few_cpus_is_refused_with_the_quotas_name() -> None:
    with LocalGke(quotas=dict(ROOMY, CPUS=(24.0, 8.0))) as gke, pytest.raises(QuotaError) as e:
        _check(gke)
    assert "quota CPUS in europe-west1" in str(e.value)
    assert "need 24; its limit is 24, 8 in use, 16 free" in str(e.value)


def test_spot_nodes_draw_on_the_spot_quota_when_there_is_one() -> None:
    def spot_start(provider: dict[str, Any]) -> None:
        provider["node_pools"][1].update(min_nodes=1)

    quotas = dict(ROOMY, CPUS=(24.0, 0.0), PREEMPTIBLE_CPUS=(8.0, 0.0))
    with LocalGke(quotas=quotas) as gke, pytest.raises(QuotaError) as caught:
        _check(gke, spot_start)
    assert "quota PREEMPTIBLE_CPUS" in str(caught.value)


def test_ssd_boot_disks_count_toward_ssd_total_gb() -> None:
    with LocalGke(quotas=dict(ROOMY, SSD_TOTAL_GB=(500.0, 0.0))) as gke:
        with pytest.raises(QuotaError) as caught:
            _check(gke)  # 6 nodes x 100 GB of pd-balanced
        assert "quota SSD_TOTAL_GB" in str(caught.value)
        _check(gke, lambda p: p["node_pools"][0].update(disk_type="pd-standard"))


def test_public_nodes_need_addresses() -> None:
    with LocalGke(quotas=dict(ROOMY, IN_USE_ADDRESSES=(4.0, 0.0))) as gke:
        _check(gke)  # private nodes take no external address
        with pytest.raises(QuotaError, match="IN_USE_ADDRESSES"):
            _check(gke, lambda p: p.update(private_nodes=False))


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda p: p.update(zones=["europe-west1-z"]), "$.cluster.provider.zones[0]"),
        (
            lambda p: p["node_pools"][1].update(machine_type="n9-imaginary-4"),
            "$.cluster.provider.node_pools[1].machine_type",
        ),
    ],
)
def test_zones_and_machine_types_the_region_lacks_are_refused(change: Any, path: str) -> None:
    with LocalGke(quotas=ROOMY) as gke, pytest.raises(InvalidInputError) as caught:
        _check(gke, change)
    assert str(caught.value).startswith(path)


def test_a_create_refused_by_preflight_makes_nothing(local_gcs: LocalGcs) -> None:
    with LocalGke(quotas=dict(ROOMY, CPUS=(8.0, 0.0))) as gke:
        settings = GcpSettings(
            storage_endpoint=local_gcs.url,
            container_endpoint=gke.url,
            sandbox=PLACEHOLDER_CLUSTER,
            sandbox_token=SANDBOX_TOKEN,
        )
        plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"})
        document = example()
        document["cluster"]["provider"]["state"]["bucket"] = "quota-refused-state"
        result = Engine(plugins, store=MemoryStateStore(), settings={"gcp": settings}).run(document)
        assert result.status is JobStatus.FAILED
        assert result.error is not None
        assert result.error.kind == "QuotaError"
        ran = {s.step_id: s.status.value for s in result.steps}
        assert ran["gcp.preflight"] == "failed"
        assert "succeeded" not in ran.values()
        assert not any(method != "GET" for method, _ in gke.requests)
    from qengine_gcp.state_backend import storage_client

    access = access_for(example(), GcpSettings(storage_endpoint=local_gcs.url, sandbox_token="t"))
    assert storage_client(access).lookup_bucket("quota-refused-state") is None


@pytest.mark.parametrize("metric", sorted(NEEDS))
def test_each_project_wide_quota_refuses_one_short_and_passes_at_the_edge(metric: str) -> None:
    need = NEEDS[metric]
    edge = dict(PROJECT_ROOMY, **{metric: (10.0 + need, 10.0)})
    with LocalGke(quotas=ROOMY, project_quotas=edge) as gke:
        _check(gke)  # usage + need == limit: room enough
    short = dict(PROJECT_ROOMY, **{metric: (9.0 + need, 10.0)})
    with LocalGke(quotas=ROOMY, project_quotas=short) as gke, pytest.raises(QuotaError) as e:
        _check(gke)
    assert str(e.value) == (
        f"quota {metric} in project acme-platform-prod: the cluster needs {need}; its limit "
        f"is {9 + need}, 10 in use, {need - 1} free"
    )
    assert not any(method != "GET" for method, _ in gke.requests)


def test_public_nodes_need_no_router_and_two_firewall_rules() -> None:
    tight = dict(PROJECT_ROOMY, ROUTERS=(1.0, 1.0), FIREWALLS=(2.0, 0.0))
    with LocalGke(quotas=ROOMY, project_quotas=tight) as gke:
        with pytest.raises(QuotaError, match="quota FIREWALLS"):
            _check(gke)
        _check(gke, lambda p: p.update(private_nodes=False))


def test_spot_vcpus_on_their_own_quota_leave_cpus_all_regions_alone() -> None:
    def spot_only(provider: dict[str, Any]) -> None:
        provider["node_pools"] = [dict(provider["node_pools"][1], min_nodes=1)]

    spot = dict(ROOMY, PREEMPTIBLE_CPUS=(100.0, 0.0))
    tight = dict(PROJECT_ROOMY, CPUS_ALL_REGIONS=(1.0, 1.0))
    with LocalGke(quotas=spot, project_quotas=tight) as gke:
        _check(gke, spot_only)
    with LocalGke(quotas=ROOMY, project_quotas=tight) as gke, pytest.raises(QuotaError):
        _check(gke, spot_only)  # no spot quota: spot vCPUs draw on CPUS, and so all regions


def test_the_pools_maximum_beyond_cpus_all_regions_is_reported_not_refused() -> None:
    project = dict(PROJECT_ROOMY, CPUS_ALL_REGIONS=(100.0, 60.0))
    with LocalGke(quotas=ROOMY, project_quotas=project) as gke:
        summary = _check(gke)
    assert summary.endswith("would exceed CPUS, CPUS_ALL_REGIONS")


def test_an_existing_cluster_is_not_counted_again() -> None:
    from google.cloud import container_v1
    from qengine_gcp.node_pools import container_client

    full = {metric: (1.0, 1.0) for metric in NEEDS}
    with LocalGke(quotas=dict(ROOMY, CPUS=(8.0, 8.0)), project_quotas=full) as gke:
        with pytest.raises(QuotaError):
            _check(gke)
        settings = GcpSettings(container_endpoint=gke.url, sandbox_token=SANDBOX_TOKEN)
        cluster = container_v1.Cluster(name=example()["cluster"]["name"])
        container_client(access_for(example(), settings)).create_cluster(
            parent="projects/acme-platform-prod/locations/europe-west1", cluster=cluster
        )
        assert "exists" in _check(gke)


def test_each_pool_takes_an_instance_group_per_zone() -> None:
    # Two pools in three zones: six groups and six managers, even for the empty spot pool.
    with LocalGke(quotas=dict(ROOMY, INSTANCE_GROUP_MANAGERS=(16.0, 10.0))) as gke:
        _check(gke)
    refused = pytest.raises(QuotaError, match="quota INSTANCE_GROUPS in europe-west1: the ")
    with LocalGke(quotas=dict(ROOMY, INSTANCE_GROUPS=(16.0, 11.0))) as gke, refused:
        _check(gke)
