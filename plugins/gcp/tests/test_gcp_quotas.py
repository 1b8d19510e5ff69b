"""Preflight against the local GKE stand-in's Compute calls (regions.get, machineTypes.get)
through the official client: zones, machine types and the quotas in force."""

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
    assert "leave room for the first nodes" in summary
    assert "would exceed CPUS" in summary


def test_too_few_cpus_is_refused_with_the_quotas_name() -> None:
    with LocalGke(quotas=dict(ROOMY, CPUS=(24.0, 8.0))) as gke, pytest.raises(QuotaError) as e:
        _check(gke)
    assert "quota CPUS in europe-west1" in str(e.value)
    assert "need 24, and 16 of 24 are free" in str(e.value)


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
