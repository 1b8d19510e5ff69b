"""``qengine run`` of an environment job in a child process, against a simulator the test
started (imported as ``k8s_processes``), and what the run left in the cluster.

A ``--sandbox`` run starts a simulator of its own inside the child, which no other process
can reach: these runs name the test's simulator in the job's target (``kubeconfig``) and take
the quickstart's demo secrets with ``--sandbox --secrets``, so a killed run and its re-run
share one cluster and one state directory.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from k8s_support import QUICKSTART, ROOT

from qengine.testing.kube import KubeSimulator

PLUGIN_DIR = ROOT / "plugins" / "kubernetes"
SECRETS = QUICKSTART.with_name("secrets.json")
NS = "qe-quickstart-1a5010"
RESOURCES = (
    "namespaces",
    "serviceaccounts",
    "secrets",
    "configmaps",
    "services",
    "persistentvolumeclaims",
    "deployments.apps",
    "statefulsets.apps",
    "jobs.batch",
    "cronjobs.batch",
    "horizontalpodautoscalers.autoscaling",
    "poddisruptionbudgets.policy",
    "ingresses.networking.k8s.io",
    "networkpolicies.networking.k8s.io",
    "resourcequotas",
    "limitranges",
)
# Set by the server or the controllers: they differ between two clusters given the same work.
VOLATILE = frozenset(
    {
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "managedFields",
        "ownerReferences",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)

# Allocated by the server or a controller wherever they appear (addresses, volume names).
SERVER_SET = frozenset({"pod-template-hash", "volumeName", "clusterIP", "clusterIPs"})


@attrs.frozen(kw_only=True)
class Finished:
    """How one ``qengine run`` ended: exit code, the JSON result (when printed), stderr."""

    code: int
    result: dict[str, Any]
    stderr: str

    def describe(self) -> str:
        """For assertion messages."""
        return f"exit {self.code}\n{self.stderr[-4000:]}"


def quickstart(sim: KubeSimulator, **changes: dict[str, Any]) -> dict[str, Any]:
    """The quickstart, targeted at ``sim``; ``changes`` update services by name."""
    document: dict[str, Any] = json.loads(QUICKSTART.read_text())
    document["target"] = {"kind": "kubeconfig", "path": str(sim.kubeconfig_path)}
    for service in document["environment"]["services"]:
        service.update(copy.deepcopy(changes.get(service["name"], {})))
    return document


def write_spec(directory: Path, document: dict[str, Any], job_id: str) -> Path:
    """Write ``document`` as job ``job_id``; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = directory / f"{job_id}.json"
    spec.write_text(json.dumps({**document, "id": job_id}))
    return spec


def start(spec: Path, state: Path, events: Path | None = None) -> subprocess.Popen[str]:
    """Start ``qengine run SPEC`` in the background."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state.parent),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(PLUGIN_DIR)]),
        "QENGINE_PLUGINS": "kubernetes",
    }
    argv = [sys.executable, "-m", "qengine", "run", str(spec), "--sandbox"]
    argv += ["--secrets", str(SECRETS), "--state-dir", str(state), "--output", "json"]
    if events is not None:
        argv += ["--events", str(events)]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], timeout: float = 120) -> Finished:
    """Wait for ``process`` to end; kills it (and fails) past ``timeout``."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"qengine run did not end within {timeout}s\n{err[-4000:]}") from None
    result: dict[str, Any] = json.loads(out) if out.strip() else {}
    return Finished(code=process.returncode, result=result, stderr=err)


def run(spec: Path, state: Path, events: Path | None = None) -> Finished:
    """Run ``qengine run SPEC`` to its end."""
    return finish(start(spec, state, events))


def kill(process: subprocess.Popen[str], sig: signal.Signals) -> None:
    """Send ``sig`` to ``process`` if it still runs."""
    if process.poll() is None:
        process.send_signal(sig)


def wait_until(condition: Callable[[], bool], seconds: float = 30.0, what: str = "") -> None:
    """Poll ``condition`` every 10 ms; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {seconds}s: {what}")
        time.sleep(0.01)


def events_of(path: Path) -> list[dict[str, Any]]:
    """The events a run wrote to ``--events`` so far."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip().endswith("}")]


def image_of(sim: KubeSimulator, resource: str, name: str) -> str:
    """The first container image of workload ``name`` ('' when it does not exist)."""
    found = sim.get_object(resource, NS, name)
    if found is None:
        return ""
    image: str = found["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def history_of(sim: KubeSimulator, service: str) -> list[tuple[int, str]]:
    """(number, job id) of each revision in the history Secret of ``service``."""
    secret = sim.get_object("secrets", NS, f"qengine-history-{service}")
    if secret is None:
        return []
    return [(int(r["revision"]), str(r["job_id"])) for r in _revisions(secret)]


def _revisions(secret: dict[str, Any]) -> list[dict[str, Any]]:
    blob = base64.b64decode(base64.b64decode(secret["data"]["revisions"]))
    data: list[dict[str, Any]] = json.loads(gzip.decompress(blob))
    return data


def cluster(sim: KubeSimulator) -> dict[str, dict[str, Any]]:
    """What a deploy leaves in the environment's namespace, without what the server or the
    controllers set (ids, versions, times, status, controller-made labels, allocated
    addresses and volume names), keyed by
    ``resource/name``; history Secrets decoded."""
    found: dict[str, dict[str, Any]] = {}
    for resource in RESOURCES:
        namespace = None if resource == "namespaces" else NS
        for obj in sim.objects(resource, namespace):
            if resource == "namespaces" and obj["metadata"]["name"] != NS:
                continue
            if obj["metadata"]["name"] == "kube-root-ca.crt":
                continue  # the simulator's own CA: each simulator has another
            found[f"{resource}/{obj['metadata']['name']}"] = _normal(obj)
    return found


def _normal(obj: dict[str, Any]) -> dict[str, Any]:
    plain = {k: v for k, v in obj.items() if k != "status"}
    plain["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in VOLATILE}
    if obj.get("type") == "qengine.dev/history.v1":
        plain["data"] = _revisions(obj)
    if obj["kind"] == "Secret" and obj["metadata"]["name"] == "qengine-hash-key":
        plain["data"] = {"key": "(random per environment)"}
    if "qengine.dev/secrets-hash" in json.dumps(plain):
        # The applied hash covers the keyed secret hash, so it is per cluster too.
        annotations = plain["metadata"].get("annotations", {})
        if "qengine.dev/applied-hash" in annotations:
            plain["metadata"]["annotations"] = {
                **annotations,
                "qengine.dev/applied-hash": "(covers a keyed hash)",
            }
    normal: dict[str, Any] = _without_keyed_hashes(_without_controller_ids(plain))
    return normal


def _without_keyed_hashes(value: Any) -> Any:
    """The secret-hash annotations, keyed by each cluster's own random key, made comparable."""
    if isinstance(value, dict):
        return {
            k: "(keyed hash)" if k == "qengine.dev/secrets-hash" else _without_keyed_hashes(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_keyed_hashes(v) for v in value]
    return value


def _without_controller_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_controller_ids(v)
            for k, v in value.items()
            if "controller-uid" not in k and k not in SERVER_SET
        }
    if isinstance(value, list):
        return [_without_controller_ids(v) for v in value]
    return value


def not_ready(sim: KubeSimulator) -> list[str]:
    """The workloads of the environment that are not rolled out and ready, and the Jobs not
    complete (empty when the environment is ready)."""
    problems: list[str] = []
    for resource in ("deployments.apps", "statefulsets.apps"):
        for obj in sim.objects(resource, NS):
            want = int(obj["spec"].get("replicas", 1))
            status = obj.get("status", {})
            if status.get("readyReplicas", 0) != want or status.get("updatedReplicas", 0) != want:
                problems.append(f"{resource}/{obj['metadata']['name']}: {status}")
    for job in sim.objects("jobs.batch", NS):
        conditions = job.get("status", {}).get("conditions", [])
        if not any(c["type"] == "Complete" and c["status"] == "True" for c in conditions):
            problems.append(f"jobs.batch/{job['metadata']['name']}: not complete")
    return problems
