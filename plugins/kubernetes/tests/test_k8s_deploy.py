"""Deploying environments on the simulator: no-op redeploys, pruning, rollback, history."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from typing import Any

from k8s_support import DEMO_SECRETS, Deploy, mutating
from qengine_kubernetes.history import decode, secret_name
from qengine_kubernetes.render.names import namespace_name

from qengine import EventType
from qengine.runner import JobStatus
from qengine.testing.kube import KubeSimulator, PodFault

Example = Callable[[str], dict[str, Any]]
NS = "qe-quickstart-1a5010"


def _image(sim: KubeSimulator, name: str) -> str:
    deployment = sim.get_object("deployments.apps", NS, name)
    assert deployment is not None
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def _service(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["environment"]["services"] if s["name"] == name)
    return found


def test_k8s_quickstart_deploys_and_a_redeploy_sends_no_mutating_request(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    first = k8s_deploy(doc, job_id="deploy-1")
    assert first.result.status is JobStatus.SUCCEEDED, first.result.error
    assert namespace_name  # the namespace the render derives
    assert k8s_sim.get_object("namespaces", "", NS) is not None
    assert _image(k8s_sim, "web") == "ghcr.io/example/shop-api:1.4.2"
    progress = first.messages(EventType.STEP_PROGRESS)
    assert "web: ready 1/1" in progress
    k8s_sim.clear_requests()

    second = k8s_deploy(doc, job_id="deploy-2")

    assert second.result.status is JobStatus.SUCCEEDED, second.result.error
    assert mutating(k8s_sim) == []
    assert second.result.changes == ()
    assert "web: unchanged" in second.messages(EventType.STEP_PROGRESS)


def test_k8s_a_changed_service_is_the_only_one_applied(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="a").result.status is JobStatus.SUCCEEDED
    _service(doc, "worker")["tag"] = "1.4.3"
    k8s_sim.clear_requests()

    result = k8s_deploy(doc, job_id="b").result

    assert result.status is JobStatus.SUCCEEDED, result.error
    writes = mutating(k8s_sim)
    assert writes, "the changed worker must be applied"
    assert all("/worker" in w or "qengine-history-worker" in w for w in writes), writes
    assert _image(k8s_sim, "worker") == "ghcr.io/example/shop-worker:1.4.3"


def test_k8s_plan_sends_no_request_at_all(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example, k8s_plugins: Any
) -> None:
    from k8s_support import sim_settings
    from qengine_kubernetes.settings import PLUGIN

    from qengine import Engine
    from qengine.runner import MemoryStateStore

    doc = example("quickstart")
    k8s_sim.clear_requests()
    engine = Engine(k8s_plugins, store=MemoryStateStore(), settings={PLUGIN: sim_settings(k8s_sim)})
    plan = engine.plan(engine.accept(doc, sandbox_secrets=DEMO_SECRETS, consume=False))
    assert len(plan.steps) == 8
    assert k8s_sim.requests() == []


def test_k8s_a_removed_service_is_pruned(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="a").result.status is JobStatus.SUCCEEDED
    assert k8s_sim.get_object("secrets", NS, secret_name("worker")) is not None
    doc["environment"]["services"] = [
        s for s in doc["environment"]["services"] if s["name"] != "worker"
    ]
    _service(doc, "web")["depends_on"] = ["db", "migrate"]

    result = k8s_deploy(doc, job_id="b").result

    assert result.status is JobStatus.SUCCEEDED, result.error
    for resource, name in [
        ("deployments.apps", "worker"),
        ("secrets", "worker-env"),
        ("serviceaccounts", "worker"),
        ("secrets", secret_name("worker")),
    ]:
        assert k8s_sim.get_object(resource, NS, name) is None, (resource, name)
    assert k8s_sim.get_object("deployments.apps", NS, "web") is not None
    deleted = {(c.kind, c.name) for c in result.changes if c.action.value == "delete"}
    assert ("Deployment", "worker") in deleted


def test_k8s_history_secret_keeps_revisions_without_secret_values(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    for number in range(7):
        _service(doc, "web")["tag"] = f"1.5.{number}"
        assert k8s_deploy(doc, job_id=f"j{number}").result.status is JobStatus.SUCCEEDED
    stored = k8s_sim.get_object("secrets", NS, secret_name("web"))
    assert stored is not None
    revisions = decode(stored)
    assert [r.number for r in revisions] == [3, 4, 5, 6, 7]
    assert revisions[-1].job_id == "j6"
    raw = gzip.decompress(base64.b64decode(base64.b64decode(stored["data"]["revisions"])))
    for value in DEMO_SECRETS.values():
        assert value.encode() not in raw
        assert base64.b64encode(value.encode()) not in raw
    assert b"qengine-placeholder-secrets-" in raw
    assert json.loads(raw)[-1]["objects"]


def test_k8s_failed_rollout_rolls_the_service_back(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="good").result.status is JobStatus.SUCCEEDED
    before = k8s_sim.get_object("deployments.apps", NS, "web")
    assert before is not None
    k8s_sim.faults.add_pod(PodFault(kind="ImagePullBackOff", image="no-such-image"))
    _service(doc, "web")["image"] = "ghcr.io/example/no-such-image"

    bad = k8s_deploy(doc, job_id="bad")

    assert bad.result.status is JobStatus.FAILED
    assert bad.result.error is not None
    assert "cannot be pulled" in bad.result.error.message
    assert _image(k8s_sim, "web") == "ghcr.io/example/shop-api:1.4.2"
    warnings = bad.messages(EventType.WARNING)
    assert any("rolled back to revision 1" in w for w in warnings), warnings
    assert any("Warning Failed pod/web-" in w for w in warnings), warnings
    after = k8s_sim.get_object("deployments.apps", NS, "web")
    assert after is not None
    assert after["spec"]["template"] == before["spec"]["template"]
    assert after["status"]["readyReplicas"] == 1
    stored = k8s_sim.get_object("secrets", NS, secret_name("web"))
    assert stored is not None
    assert [r.job_id for r in decode(stored)] == ["good"]


def test_k8s_crashing_pods_of_an_older_revision_do_not_fail_the_fix(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="good").result.status is JobStatus.SUCCEEDED
    k8s_sim.faults.add_pod(PodFault(kind="CrashLoopBackOff", image="broken"))
    broken = _deployment_patch("example.org/broken:1")
    api_patch(k8s_sim, "worker", broken)
    _wait_for(lambda: _crashing(k8s_sim))
    _service(doc, "worker")["tag"] = "1.4.3"

    fixed = k8s_deploy(doc, job_id="fix").result

    assert fixed.status is JobStatus.SUCCEEDED, fixed.error
    assert _image(k8s_sim, "worker") == "ghcr.io/example/shop-worker:1.4.3"


def _deployment_patch(image: str) -> dict[str, Any]:
    container = {"name": "worker", "image": image}
    return {"spec": {"template": {"spec": {"containers": [container]}}}}


def api_patch(sim: KubeSimulator, name: str, patch: dict[str, Any]) -> None:
    """A strategic merge patch by another manager, as `kubectl patch` would send."""
    import ssl
    import urllib.request

    ca = sim.ca_pem
    context = ssl.create_default_context(cadata=ca.decode() if isinstance(ca, bytes) else ca)
    request = urllib.request.Request(
        f"{sim.url}/apis/apps/v1/namespaces/{NS}/deployments/{name}?fieldManager=someone",
        data=json.dumps(patch).encode(),
        method="PATCH",
        headers={
            "Authorization": f"Bearer {sim.token}",
            "Content-Type": "application/strategic-merge-patch+json",
        },
    )
    with urllib.request.urlopen(request, context=context) as answer:
        assert answer.status == 200


def _crashing(sim: KubeSimulator) -> bool:
    for pod in sim.objects("pods", NS):
        for status in pod.get("status", {}).get("containerStatuses", []):
            if (status.get("state", {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                return True
    return False


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_k8s_no_secret_value_leaves_the_secrets_it_belongs_in(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    deployed = k8s_deploy(doc, job_id="s")
    assert deployed.result.status is JobStatus.SUCCEEDED
    events = json.dumps([e.to_json_object() for e in deployed.events])
    for resource in ("deployments.apps", "statefulsets.apps", "jobs.batch", "cronjobs.batch"):
        stored = json.dumps(k8s_sim.objects(resource, NS))
        for value in DEMO_SECRETS.values():
            assert value not in stored, resource
    for value in DEMO_SECRETS.values():
        assert value not in events
    web_env = k8s_sim.get_object("secrets", NS, "web-env")
    assert web_env is not None
    encoded = base64.b64encode(DEMO_SECRETS["session_key"].encode()).decode()
    assert encoded in web_env["data"].values()


def test_k8s_throttling_and_dropped_connections_are_retried(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    from qengine.testing.kube import ApiFault

    k8s_sim.faults.add_api(
        ApiFault(kind="drop", methods=("PATCH",), path_contains="/deployments", count=1)
    )
    k8s_sim.faults.add_api(
        ApiFault(kind="429", methods=("GET",), path_contains="/secrets", count=2)
    )

    result = k8s_deploy(example("quickstart"), job_id="r").result

    assert result.status is JobStatus.SUCCEEDED, result.error
    dropped = [r for r in k8s_sim.requests() if r.status == 0]
    throttled = [r for r in k8s_sim.requests() if r.status == 429]
    assert len(dropped) == 1
    assert len(throttled) == 2
    assert _image(k8s_sim, "web") == "ghcr.io/example/shop-api:1.4.2"
