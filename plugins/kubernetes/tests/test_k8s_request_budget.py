"""What a deploy costs in API requests, counted in the simulator's log as they arrive.

A no-op redeploy reads one list per kind, whatever the number of services; the rollout waits
of a deploy share one watch per kind and namespace rather than one per object.
"""

from __future__ import annotations

from typing import Any

from k8s_support import Deploy, is_lease_traffic
from qengine_kubernetes.access import connect
from qengine_kubernetes.inventory import Inventory
from qengine_kubernetes.render.labels import ENVIRONMENT_ID
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import KubeconfigTarget

from qengine.runner import JobStatus
from qengine.testing.kube import KubeSimulator


def environment(name: str, services: int) -> dict[str, Any]:
    """A job document of ``services`` container services in environment ``name``."""
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "unset",
        "organization": {"id": "org-budget"},
        "actor": {"id": "actor-budget"},
        "action": "deploy",
        "created_at": "2026-01-01T00:00:00Z",
        "not_after": "2099-01-01T00:00:00Z",
        "max_parallel": 4,
        "target": {"kind": "sandbox", "readiness_delay": 0},
        "environment": {
            "id": f"env-{name}",
            "name": name,
            "services": [
                {
                    "kind": "container",
                    "name": f"svc-{n}",
                    "image": "registry.k8s.io/pause",
                    "tag": "3.9",
                    "ports": [{"port": 8080}],
                    "env": {"INDEX": str(n)},
                }
                for n in range(services)
            ],
        },
    }


def environment_requests(sim: KubeSimulator) -> list[tuple[str, str]]:
    """(method, path) of each request that arrived, the job's Lease traffic left out."""
    return [(a.method, a.path) for a in sim.arrivals() if not is_lease_traffic(a.path)]


def test_k8s_a_noop_redeploy_reads_as_much_for_nine_services_as_for_three(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator
) -> None:
    counts: dict[int, int] = {}
    for size in (3, 9):
        doc = environment(f"budget{size}", size)
        assert k8s_deploy(doc, job_id=f"first-{size}").result.status is JobStatus.SUCCEEDED
        k8s_sim.clear_requests()
        again = k8s_deploy(doc, job_id=f"again-{size}").result
        assert again.status is JobStatus.SUCCEEDED, again.error
        sent = environment_requests(k8s_sim)
        assert [r for r in sent if r[0] != "GET"] == []
        counts[size] = len(sent)
    assert counts[9] == counts[3]


def test_k8s_the_rollout_waits_of_a_deploy_share_one_watch_per_kind(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator
) -> None:
    services = 8
    k8s_sim.clear_requests()
    result = k8s_deploy(environment("shared", services), job_id="shared").result
    assert result.status is JobStatus.SUCCEEDED, result.error
    watches = [
        a.path
        for a in k8s_sim.arrivals()
        if a.path.endswith("/deployments") and "watch=1" in a.query
    ]
    # Without sharing, each of the 8 waits watches its own Deployment at least once. One
    # watch window lasts 5 s, so a slow machine may need a second one.
    assert 1 <= len(watches) <= 2, watches


def test_k8s_the_inventory_lists_the_kinds_a_service_uses_at_once_and_each_once(
    k8s_sim: KubeSimulator,
) -> None:
    api = connect(
        KubeconfigTarget(kind="kubeconfig", path=str(k8s_sim.kubeconfig_path)), KubeSettings()
    )
    k8s_sim.create_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "default", "labels": {ENVIRONMENT_ID: "e"}},
        }
    )
    known = Inventory(api, "default", "e")
    k8s_sim.clear_requests()
    known.prefetch(["ConfigMap", "Secret", "ConfigMap", "Service"])
    known.prefetch(["Secret", "ServiceAccount"])  # only the kind not listed yet
    assert known.get("ConfigMap", "a") is not None
    assert known.get("Service", "a") is None
    listed = sorted(a.path.rsplit("/", 1)[1] for a in k8s_sim.arrivals())
    assert listed == ["configmaps", "secrets", "serviceaccounts", "services"]
