"""The engine against two asynchronous behaviours of a real cluster.

* A watch can be answered ``410 Gone`` (an ERROR event with an ``Expired`` Status) when the
  version it starts from was compacted: the API server compacts etcd every 5 minutes, and a
  write plus a compaction can fall between two windows of the engine's watch.
* Cascading deletion is done by the garbage collector after the DELETE returned: the pods of
  a deleted Job or ReplicaSet linger for a while (and, on a cluster, for their termination
  grace period), with labels a new object of the same name shares.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from k8s_support import Deploy, sim_settings
from qengine_kubernetes import watches
from qengine_kubernetes.access import connect
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.spec import SandboxTarget

from qengine.plugin import CancelToken
from qengine.runner import JobStatus
from qengine.testing.kube import KubeSimulator, PodFault

Example = Callable[[str], dict[str, Any]]
NS = "qe-quickstart-1a5010"
STAGED = 2  # watch windows that find their version compacted


def test_k8s_a_rollout_carries_on_after_its_watches_expire(
    k8s_sim: KubeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's one watch of a kind (which its rollout waits share) goes on at each window
    from the last version it saw; when that version was compacted in between (a write and a
    compaction between two windows, which the wrapper below stages on the simulator), the API
    answers 410 Gone and the watch starts afresh: a wait on it still sees its object change."""
    monkeypatch.setattr(watches, "WINDOW_SECONDS", 1)
    original = KubeApi.watch
    expired: list[dict[str, Any]] = []
    staged_count = itertools.count()

    def staged(self: KubeApi, kind: str, namespace: str | None, **options: Any) -> Iterator[Any]:
        number = next(staged_count) if options.get("resource_version") else STAGED
        if number < STAGED:
            _compact_past(k8s_sim, int(options["resource_version"]), f"between-{number}")
        for event, obj in original(self, kind, namespace, **options):
            if event == "ERROR":
                expired.append(obj)
            yield event, obj

    monkeypatch.setattr(KubeApi, "watch", staged)
    api = connect(SandboxTarget(kind="sandbox"), sim_settings(k8s_sim))
    meta = {"name": "watched", "namespace": "default"}
    live = api.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {}})
    change = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"n": "1"}}
    # Changed once every staged window has expired: only a watch started afresh can see it.
    later = threading.Timer(2.0 * STAGED + 1.5, api.apply, args=(change,))
    later.start()
    try:
        changes = watches.shared_watch(api, "ConfigMap", "default").changes(
            live, 4.0 * STAGED + 10, CancelToken()
        )
        event, current = next(changes)
        changes.close()
    finally:
        later.cancel()
        later.join()

    assert (event, current["data"]) == ("MODIFIED", {"n": "1"})
    assert len(expired) >= STAGED
    assert {(e["code"], e["reason"]) for e in expired} == {(410, "Expired")}


def _compact_past(sim: KubeSimulator, version: int, name: str) -> None:
    """A write, then compactions until ``version`` is compacted (the engine's other open
    watches hold compaction back until they have sent what they owe)."""
    sim.create_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
    deadline = time.monotonic() + 10
    while True:
        with sim.store.lock:
            sim.store.compact()
            if sim.store.oldest_available() > version:
                return
        assert time.monotonic() < deadline, "open watches held the compaction back"
        time.sleep(0.01)


def test_k8s_a_redeploy_judges_only_its_own_pods_while_old_ones_linger(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    """A first deploy fails and is undone (its Job deleted, in the background); a retry at once
    creates the Job of the same name while the failed pod of the deleted one still exists.
    Only the new Job's pods decide its fate."""
    doc = example("quickstart")
    migrate = next(s for s in doc["environment"]["services"] if s["name"] == "migrate")
    migrate.pop("depends_on")
    migrate["env"] = {}
    doc["environment"]["services"] = [migrate]
    k8s_sim.store.gc_delay = 5.0  # the collector is slow: the old pod stays through the retry
    # The namespace exists before the job: a failed first deploy deletes one it created.
    k8s_sim.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    k8s_sim.faults.add_pod(PodFault(kind="ImagePullBackOff", image="shop-api"))

    first = k8s_deploy(doc, job_id="first").result

    assert first.status is JobStatus.FAILED
    stale = k8s_sim.objects("pods", NS)
    assert len(stale) == 1
    k8s_sim.faults.clear()

    retried = k8s_deploy(doc, job_id="retry").result

    assert retried.status is JobStatus.SUCCEEDED, retried.error
    assert k8s_sim.get_object("pods", NS, stale[0]["metadata"]["name"]) is not None
