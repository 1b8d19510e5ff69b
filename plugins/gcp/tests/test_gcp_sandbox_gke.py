"""The local GKE stand-in answers the official clients (REST transport) with the APIs'
shapes, and preflight refuses a version GKE does not offer."""

from __future__ import annotations

import pytest
from gcp_support import access_for, example
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.node_pools import container_client, pool_sizes, set_zone_sizes
from qengine_gcp.preflight import check_version_offered
from qengine_gcp.sandbox import SANDBOX_TOKEN
from qengine_gcp.sandbox_gke import LocalGke
from qengine_gcp.settings import GcpSettings

from qengine.plugin import CancelToken, InvalidInputError


def _access(gke: LocalGke) -> GcpAccess:
    return access_for(
        example(), GcpSettings(container_endpoint=gke.url, sandbox_token=SANDBOX_TOKEN)
    )


def test_server_config_through_the_client() -> None:
    with LocalGke() as gke:
        access = _access(gke)
        assert check_version_offered(access, "1.32") == "1.32.9-gke.1300"
        assert ("GET", "/v1/projects/acme-platform-prod/locations/europe-west1/serverConfig") in (
            gke.requests
        )


def test_a_version_gke_does_not_offer_is_refused_naming_the_path() -> None:
    with (
        LocalGke(versions={"1.33": "1.33.5-gke.1200"}) as gke,
        pytest.raises(InvalidInputError) as caught,
    ):
        check_version_offered(_access(gke), "1.32")
    assert "$.cluster.kubernetes_version" in str(caught.value)
    assert "1.33.5-gke.1200" in (caught.value.hint or "")


def test_an_unknown_cluster_is_not_found_and_unknown_pools_are_left_out() -> None:
    from google.api_core import exceptions

    with LocalGke() as gke:
        access = _access(gke)
        client = container_client(access)
        with pytest.raises(exceptions.NotFound):
            client.get_cluster(
                name="projects/acme-platform-prod/locations/europe-west1/clusters/nope"
            )
        assert pool_sizes(access, "nope", ["general"]) == {}


def test_pools_sizes_are_read_from_their_instance_groups() -> None:
    from google.cloud import container_v1

    with LocalGke() as gke:
        access = _access(gke)
        client = container_client(access)
        pool = container_v1.NodePool(
            name="general",
            initial_node_count=2,
            locations=["europe-west1-b", "europe-west1-c"],
            autoscaling=container_v1.NodePoolAutoscaling(
                enabled=True, min_node_count=1, max_node_count=5
            ),
        )
        client.create_cluster(
            parent="projects/acme-platform-prod/locations/europe-west1",
            cluster=container_v1.Cluster(name="prod-europe", node_pools=[pool]),
        )
        sizes = pool_sizes(access, "prod-europe", ["general"])
        assert sizes["general"].describe() == (
            "min 1, max 5, nodes per zone europe-west1-b 2, europe-west1-c 2"
        )
        assert any(path.startswith("/compute/v1/projects/") for _, path in gke.requests)
        # One zone's group resized through Compute; the other zone keeps its count.
        set_zone_sizes(access, "prod-europe", "general", {"europe-west1-c": 4}, CancelToken())
        resized = pool_sizes(access, "prod-europe", ["general"])["general"]
        assert resized.by_zone() == {"europe-west1-b": 2, "europe-west1-c": 4}
        [(_, path)] = [(m, p) for m, p in gke.requests if p.endswith("/resize")]
        assert "/zones/europe-west1-c/instanceGroupManagers/" in path
