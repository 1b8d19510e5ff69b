"""Time-driven Deployment behaviour on the simulator's clock, and revisions that come back.

References (Kubernetes 1.31):

* "Deployments" (kubernetes.io/docs/concepts/workloads/controllers/deployment/), "Failed
  Deployment": once ``progressDeadlineSeconds`` passes without progress, "the Deployment
  controller ... adds a DeploymentCondition with ``type: Progressing``, ``status: "False"``,
  ``reason: ProgressDeadlineExceeded``"; "Pausing and Resuming a Deployment" and the
  controller's ``checkPausedConditions`` (Progressing ``Unknown``, ``DeploymentPaused`` /
  ``DeploymentResumed``; "Kubernetes does not check progress when the rollout is paused");
  a paused Deployment gets no new ReplicaSet (``getAllReplicaSetsAndSyncRevision`` with
  ``createIfNotExisted`` false).
* "Rolling Back a Deployment": ``kubectl rollout undo`` goes back to a previous revision,
  whose ReplicaSet is found by template (``FindNewReplicaSet``, ignoring the
  ``pod-template-hash`` label) and scaled up again; the controller gives it the next
  revision number and records the former ones in ``deployment.kubernetes.io/
  revision-history`` (``SetNewReplicaSetAnnotations``); the Deployment's annotations, such
  as ``kubernetes.io/change-cause``, are copied to its ReplicaSets, where ``kubectl rollout
  history`` reads them.
* ``minReadySeconds``: "the minimum number of seconds for which a newly created Pod should
  be ready without any of its containers crashing, for it to be considered available".
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from qengine.testing.kube import KubeSimulator

from .conftest import Kubectl, Raw, get
from .test_controllers import eventually

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"


def deployment(name: str, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **spec,
        },
    }


def progressing(sim: KubeSimulator, name: str) -> dict[str, Any]:
    found = get(sim, "deployments.apps", "default", name)
    for cond in found.get("status", {}).get("conditions") or []:
        if cond["type"] == "Progressing":
            return dict(cond)
    return {}


def replica_sets(sim: KubeSimulator, name: str) -> list[dict[str, Any]]:
    return [
        rs
        for rs in sim.objects("replicasets.apps", "default")
        if rs["metadata"]["labels"].get("app") == name
    ]


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["metadata"].get("annotations") or {})


def test_progress_deadline_is_exceeded_with_nothing_touching_the_deployment(
    sim: KubeSimulator, raw: Raw, k8s: Any, kubectl: Kubectl
) -> None:
    from kubernetes import client, watch

    body = deployment("stuck", progressDeadlineSeconds=60)
    body["spec"]["template"]["metadata"]["annotations"] = {
        "sim.qengine.dev/fault": "ImagePullBackOff"
    }
    raw.request("POST", DEPLOYS, body)
    # The rollout has started: NewReplicaSetCreated, which the next sync replaces with
    # ReplicaSetUpdated once the new ReplicaSet's pods are made (a poll can miss the first).
    started = {"NewReplicaSetCreated", "ReplicaSetUpdated"}
    eventually(lambda: progressing(sim, "stuck").get("reason") in started)
    since = progressing(sim, "stuck")["lastUpdateTime"]
    apps = client.AppsV1Api(k8s)
    start = apps.read_namespaced_deployment("stuck", "default").metadata.resource_version
    seen: list[Any] = []

    def observe() -> None:
        stream = watch.Watch()  # type: ignore[no-untyped-call]
        for event in stream.stream(
            apps.list_namespaced_deployment,
            "default",
            field_selector="metadata.name=stuck",
            resource_version=start,
            timeout_seconds=10,
        ):
            conds = {c.type: c for c in event["object"].status.conditions or []}
            if conds["Progressing"].reason == "ProgressDeadlineExceeded":
                seen.append(conds["Progressing"])
                stream.stop()  # type: ignore[no-untyped-call]

    watcher = threading.Thread(target=observe)
    watcher.start()
    time.sleep(0.5)
    sim.clear_requests()
    sim.clock.advance(61)  # no write: the controller notices the deadline on its own
    watcher.join(timeout=15)
    assert seen, "no ProgressDeadlineExceeded event"
    assert (seen[0].status, seen[0].message) == (
        "False",
        f'ReplicaSet "{replica_sets(sim, "stuck")[0]["metadata"]["name"]}" has timed out '
        "progressing.",
    )
    assert not [r for r in sim.requests() if r.mutating]
    assert since  # the deadline ran from the last progress, when the rollout started
    proc = kubectl.run("rollout", "status", "deployment/stuck", "--timeout=20s", check=False)
    assert proc.returncode == 1
    assert 'deployment "stuck" exceeded its progress deadline' in proc.stderr


def test_a_paused_deployment_is_not_timed_out_and_gets_no_new_replica_set(
    sim: KubeSimulator, raw: Raw, kubectl: Kubectl
) -> None:
    raw.request("POST", DEPLOYS, deployment("paused", progressDeadlineSeconds=60))
    kubectl.run("rollout", "status", "deployment/paused", "--timeout=30s")
    kubectl.run("rollout", "pause", "deployment/paused")
    paused = eventually(lambda: progressing(sim, "paused").get("reason") == "DeploymentPaused")
    assert paused
    cond = progressing(sim, "paused")
    assert (cond["status"], cond["message"]) == ("Unknown", "Deployment is paused")
    kubectl.run("set", "image", "deployment/paused", "main=nginx:1.26")
    time.sleep(0.5)
    sim.clock.advance(3600)
    time.sleep(0.5)
    assert progressing(sim, "paused")["reason"] == "DeploymentPaused"
    assert len(replica_sets(sim, "paused")) == 1  # no ReplicaSet for the paused template
    kubectl.run("rollout", "resume", "deployment/paused")
    kubectl.run("rollout", "status", "deployment/paused", "--timeout=30s")
    assert progressing(sim, "paused")["reason"] == "NewReplicaSetAvailable"
    assert len(replica_sets(sim, "paused")) == 2


def test_rollout_undo_scales_the_previous_replica_set_up_again(
    sim: KubeSimulator, kubectl: Kubectl, tmp_path: Path
) -> None:
    manifest = tmp_path / "web.json"
    for version in ("1.25", "1.26"):
        body = deployment("web", f"nginx:{version}")
        body["metadata"]["annotations"] = {"kubernetes.io/change-cause": f"nginx {version}"}
        manifest.write_text(json.dumps(body))
        kubectl.run("apply", "-f", str(manifest))
        kubectl.run("rollout", "status", "deployment/web", "--timeout=30s")
    first = next(
        rs
        for rs in replica_sets(sim, "web")
        if rs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    )
    kubectl.run("rollout", "undo", "deployment/web")
    kubectl.run("rollout", "status", "deployment/web", "--timeout=30s")

    sets = replica_sets(sim, "web")
    assert len(sets) == 2  # the first one again, not a third
    again = get(sim, "replicasets.apps", "default", first["metadata"]["name"])
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    assert again["spec"]["replicas"] == 1
    assert annotations(again)["deployment.kubernetes.io/revision"] == "3"
    assert annotations(again)["deployment.kubernetes.io/revision-history"] == "1"
    live = get(sim, "deployments.apps", "default", "web")
    assert annotations(live)["deployment.kubernetes.io/revision"] == "3"
    hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in sim.objects("pods", "default")}
    assert hashes == {first["metadata"]["labels"]["pod-template-hash"]}
    history = kubectl.run("rollout", "history", "deployment/web").stdout
    rows = [line.split(None, 1) for line in history.splitlines()[2:] if line.strip()]
    assert rows == [["2", "nginx 1.26"], ["3", "nginx 1.25"]]

    kubectl.run("rollout", "undo", "deployment/web", "--to-revision=2")
    kubectl.run("rollout", "status", "deployment/web", "--timeout=30s")
    assert len(replica_sets(sim, "web")) == 2
    revisions = {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: annotations(rs)
        for rs in replica_sets(sim, "web")
    }
    assert revisions["nginx:1.26"]["deployment.kubernetes.io/revision"] == "4"
    assert revisions["nginx:1.26"]["deployment.kubernetes.io/revision-history"] == "2"


def test_a_template_applied_back_takes_the_next_revision(
    sim: KubeSimulator, raw: Raw, kubectl: Kubectl
) -> None:
    path = DEPLOYS + "/back?fieldManager=test"
    for version in ("1.25", "1.26", "1.25"):
        status, body, _ = raw.request(
            "PATCH", path, deployment("back", f"nginx:{version}"), content_type=APPLY
        )
        assert status in (200, 201), body
        kubectl.run("rollout", "status", "deployment/back", "--timeout=30s")
    assert len(replica_sets(sim, "back")) == 2
    live = get(sim, "deployments.apps", "default", "back")
    assert annotations(live)["deployment.kubernetes.io/revision"] == "3"


def test_min_ready_seconds_holds_availability_on_the_clock(
    sim: KubeSimulator, raw: Raw, kubectl: Kubectl
) -> None:
    raw.request("POST", DEPLOYS, deployment("warm", minReadySeconds=30))
    eventually(
        lambda: (
            get(sim, "deployments.apps", "default", "warm").get("status", {}).get("readyReplicas")
            == 1
        )
    )
    time.sleep(0.5)
    status = get(sim, "deployments.apps", "default", "warm")["status"]
    assert status.get("availableReplicas", 0) == 0
    assert status["unavailableReplicas"] == 1
    proc = kubectl.run(
        "wait", "--for=condition=Available", "deployment/warm", "--timeout=1s", check=False
    )
    assert proc.returncode != 0
    sim.clock.advance(31)
    kubectl.run("wait", "--for=condition=Available", "deployment/warm", "--timeout=20s")
    assert get(sim, "deployments.apps", "default", "warm")["status"]["availableReplicas"] == 1
