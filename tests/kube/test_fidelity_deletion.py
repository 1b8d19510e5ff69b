"""Cascading deletion as a real cluster does it: the garbage collector acts after the DELETE.

References: "Garbage Collection" and "Use Cascading Deletion" in the Kubernetes
documentation (kubernetes.io/docs/concepts/architecture/garbage-collection/,
kubernetes.io/docs/tasks/administer-cluster/use-cascading-deletion/): with Background
propagation "the Kubernetes API server deletes the owner object immediately and the garbage
collector controller cleans up the dependent objects in the background"; with Foreground the
owner "enters a deletion in progress state" (``deletionTimestamp``, the
``foregroundDeletion`` finalizer) and is deleted once the dependents with
``ownerReference.blockOwnerDeletion=true`` are; Orphan leaves the dependents, without the
owner reference. The registry's defaults: batch/v1 Jobs orphan when no policy is given
(pkg/registry/batch/job/strategy.go, DefaultGarbageCollectionPolicy). The collector's rules
for dependents with several owners: pkg/controller/garbagecollector (attemptToDeleteItem).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from qengine.testing.kube import KubeSimulator

from .conftest import Kubectl, Raw
from .test_api_semantics import CM, DEPLOYS, configmap, deployment

GC_DELAY = 1.5  # long enough to see the dependents before the collector acts
JOBS = "/apis/batch/v1/namespaces/default/jobs"


@pytest.fixture
def slow_gc(sim: KubeSimulator) -> KubeSimulator:
    sim.store.gc_delay = GC_DELAY
    return sim


def eventually(check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"condition not met within {timeout}s"
        time.sleep(0.05)
    return result


def names(sim: KubeSimulator, resource: str) -> list[str]:
    return [o["metadata"]["name"] for o in sim.objects(resource, "default")]


def _rolled_out(sim: KubeSimulator, kubectl: Kubectl, name: str) -> list[str]:
    """Create Deployment ``name`` with 2 replicas and wait for it; its ReplicaSets' names."""
    Raw(sim).request("POST", DEPLOYS, deployment(name, replicas=2))
    kubectl.run("rollout", "status", f"deployment/{name}", "--timeout=30s")
    return names(sim, "replicasets.apps")


def test_background_deletion_returns_before_the_dependents_go(
    slow_gc: KubeSimulator, kubectl: Kubectl
) -> None:
    sim = slow_gc
    sets = _rolled_out(sim, kubectl, "bg")
    assert len(names(sim, "pods")) == 2

    out = kubectl.run("delete", "deployment", "bg", "--cascade=background").stdout
    assert out.strip() == 'deployment.apps "bg" deleted'

    assert sim.get_object("deployments.apps", "default", "bg") is None
    assert names(sim, "replicasets.apps") == sets  # still there, owner gone
    assert len(names(sim, "pods")) == 2
    eventually(lambda: not names(sim, "replicasets.apps") and not names(sim, "pods"))


def test_foreground_deletion_keeps_the_owner_until_its_dependents_are_gone(
    slow_gc: KubeSimulator, kubectl: Kubectl, raw: Raw
) -> None:
    sim = slow_gc
    _rolled_out(sim, kubectl, "fg")
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}

    status, body, _ = raw.request("DELETE", DEPLOYS + "/fg", options)

    assert status == 200
    assert body["kind"] == "Deployment"
    assert body["metadata"]["deletionTimestamp"]
    assert body["metadata"]["finalizers"] == ["foregroundDeletion"]
    held = sim.get_object("deployments.apps", "default", "fg")
    assert held is not None
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert names(sim, "replicasets.apps")
    deadline = time.monotonic() + 20
    while (owner := sim.get_object("deployments.apps", "default", "fg")) is not None:
        assert owner["metadata"]["deletionTimestamp"]
        assert time.monotonic() < deadline, "the owner was never deleted"
        time.sleep(0.02)
    # The owner went last: its dependents were gone before it.
    assert names(sim, "replicasets.apps") == []
    assert names(sim, "pods") == []
    # kubectl waits for the owner, so for its dependents too.
    _rolled_out(sim, kubectl, "wait")
    kubectl.run("delete", "deployment", "wait", "--cascade=foreground", "--timeout=30s")
    assert names(sim, "replicasets.apps") == []


def test_orphan_deletion_releases_the_dependents(
    sim: KubeSimulator, kubectl: Kubectl, raw: Raw
) -> None:
    sets = _rolled_out(sim, kubectl, "orph")
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"}

    status, body, _ = raw.request("DELETE", DEPLOYS + "/orph", options)

    assert status == 200
    assert body["metadata"]["finalizers"] == ["orphan"]
    assert body["metadata"]["deletionTimestamp"]
    eventually(lambda: sim.get_object("deployments.apps", "default", "orph") is None)
    assert names(sim, "replicasets.apps") == sets
    kept = sim.get_object("replicasets.apps", "default", sets[0])
    assert kept is not None
    assert "ownerReferences" not in kept["metadata"]


def test_a_batch_v1_job_deleted_without_a_policy_orphans_its_pods(
    sim: KubeSimulator, raw: Raw
) -> None:
    """Through the API (not kubectl, which sends Background), batch/v1 defaults to Orphan."""
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
            }
        },
    }
    raw.request("POST", JOBS, job)
    pods = eventually(lambda: names(sim, "pods"))

    status, _, _ = raw.request("DELETE", JOBS + "/once")

    assert status == 200
    eventually(lambda: sim.get_object("jobs.batch", "default", "once") is None)
    time.sleep(sim.store.gc_delay + 0.3)
    assert names(sim, "pods") == pods
    kept = sim.get_object("pods", "default", pods[0])
    assert kept is not None
    assert "ownerReferences" not in kept["metadata"]


def _owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": meta["name"], "uid": meta["uid"]}


def test_a_dependent_with_another_owner_is_kept_without_the_dangling_reference(
    sim: KubeSimulator, raw: Raw
) -> None:
    _, first, _ = raw.request("POST", CM, configmap("first-owner"))
    _, second, _ = raw.request("POST", CM, configmap("second-owner"))
    shared = configmap("shared")
    shared["metadata"]["ownerReferences"] = [_owner_ref(first), _owner_ref(second)]
    raw.request("POST", CM, shared)

    raw.request("DELETE", CM + "/first-owner")

    def released() -> Any:
        found = sim.get_object("configmaps", "default", "shared")
        assert found is not None, "a dependent with an existing owner was deleted"
        refs = found["metadata"]["ownerReferences"]
        return [r["name"] for r in refs] == ["second-owner"]

    eventually(released)
    raw.request("DELETE", CM + "/second-owner")
    eventually(lambda: sim.get_object("configmaps", "default", "shared") is None)


def test_an_object_created_with_an_absent_owner_is_collected(sim: KubeSimulator, raw: Raw) -> None:
    lonely = configmap("lonely")
    lonely["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "nobody", "uid": "0000-missing"}
    ]
    status, _, _ = raw.request("POST", CM, lonely)
    assert status == 201
    eventually(lambda: sim.get_object("configmaps", "default", "lonely") is None)


def test_delete_options_are_validated(raw: Raw) -> None:
    raw.request("POST", CM, configmap("opts"))
    both = {"propagationPolicy": "Background", "orphanDependents": True}
    status, body, _ = raw.request("DELETE", CM + "/opts", both)
    assert status == 422
    assert body["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: '
        '"Background": orphanDependents and deletionPropagation cannot be both set'
    )
    status, body, _ = raw.request("DELETE", CM + "/opts", {"propagationPolicy": "Later"})
    assert status == 422
    assert body["message"].endswith(
        'propagationPolicy: Unsupported value: "Later": supported values: "Foreground", '
        '"Background", "Orphan", "nil"'
    )


def test_without_controllers_nothing_collects_dependents() -> None:
    """The collector is a controller: with controllers off, dependents stay (as on a cluster
    without a controller manager)."""
    with KubeSimulator(controllers=False) as quiet:
        raw = Raw(quiet)
        _, owner, _ = raw.request("POST", CM, configmap("owner"))
        child = configmap("child")
        child["metadata"]["ownerReferences"] = [_owner_ref(owner)]
        raw.request("POST", CM, child)
        raw.request("DELETE", CM + "/owner")
        time.sleep(quiet.store.gc_delay + 0.3)
        assert quiet.get_object("configmaps", "default", "child") is not None


def test_a_deployment_recreated_before_the_collector_ran_gets_a_new_replica_set(
    slow_gc: KubeSimulator, kubectl: Kubectl, raw: Raw
) -> None:
    """The old ReplicaSet (same template, same name) still exists: the Deployment controller
    bumps ``status.collisionCount`` for a new name instead of failing."""
    sim = slow_gc
    old = _rolled_out(sim, kubectl, "again")
    raw.request("DELETE", DEPLOYS + "/again")
    raw.request("POST", DEPLOYS, deployment("again", replicas=2))
    kubectl.run("rollout", "status", "deployment/again", "--timeout=30s")
    live = sim.get_object("deployments.apps", "default", "again")
    assert live is not None
    assert live["status"]["collisionCount"] == 1
    eventually(lambda: old[0] not in names(sim, "replicasets.apps"))
    assert len(names(sim, "replicasets.apps")) == 1
    assert sim.controller_errors == []
