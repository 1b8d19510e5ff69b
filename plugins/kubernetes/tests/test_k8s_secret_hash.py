"""The secret-hash annotation confirms no guess: its key is random per environment, kept in a
Secret, and never derivable from what a cluster viewer sees.

Jobs run through a real Engine against the Kubernetes simulator (the real REST protocol).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from typing import Any

from k8s_support import mutating, sim_settings
from qengine_kubernetes.hashkey import KEY_BYTES, KEY_SECRET
from qengine_kubernetes.render.context import default_hash_key
from qengine_kubernetes.render.names import namespace_name
from qengine_kubernetes.render.secrets import HASH_ANNOTATION

from qengine import Engine, Event, PluginSet
from qengine.runner import JobStatus, MemoryStateStore
from qengine.spec import EnvironmentJob
from qengine.testing.kube import KubeSimulator

SECRETS = {"db_password": "guess-me-1", "session_key": "guess-me-2"}
# Every resource the jobs below can make, Secrets aside.
VIEWABLE = (
    "namespaces",
    "configmaps",
    "services",
    "serviceaccounts",
    "events",
    "pods",
    "persistentvolumeclaims",
    "deployments.apps",
    "replicasets.apps",
    "statefulsets.apps",
    "controllerrevisions.apps",
    "jobs.batch",
    "cronjobs.batch",
    "ingresses.networking.k8s.io",
    "networkpolicies.networking.k8s.io",
    "horizontalpodautoscalers.autoscaling",
    "leases.coordination.k8s.io",
)


class Runner:
    """Runs documents through one Engine store against one simulator, with given secrets."""

    def __init__(self, plugins: PluginSet, sim: KubeSimulator) -> None:
        self.plugins, self.sim, self.store = plugins, sim, MemoryStateStore()
        self.events: list[Event] = []
        self.results: list[str] = []

    def run(self, doc: dict[str, Any], job_id: str, secrets: dict[str, str]) -> None:
        document = copy.deepcopy(doc)
        document["id"] = job_id
        settings = {"kubernetes": sim_settings(self.sim)}
        engine = Engine(self.plugins, store=self.store, settings=settings)
        result = engine.run(document, on_event=self.events.append, sandbox_secrets=secrets)
        assert result.status is JobStatus.SUCCEEDED, result.error
        self.results.append(json.dumps(result.to_json()))


def _environment(doc: dict[str, Any], env_id: str, name: str) -> dict[str, Any]:
    changed = copy.deepcopy(doc)
    changed["environment"]["id"], changed["environment"]["name"] = env_id, name
    return changed


def _namespace(plugins: PluginSet, doc: dict[str, Any]) -> str:
    job = plugins.loader.load(doc)
    assert isinstance(job, EnvironmentJob)
    return namespace_name(job.environment)


def _annotation(sim: KubeSimulator, namespace: str, name: str = "web") -> str:
    deployment = sim.get_object("deployments.apps", namespace, name)
    assert deployment is not None
    value: str = deployment["spec"]["template"]["metadata"]["annotations"][HASH_ANNOTATION]
    return value


def _stored_key(sim: KubeSimulator, namespace: str) -> bytes:
    secret = sim.get_object("secrets", namespace, KEY_SECRET)
    assert secret is not None
    return base64.b64decode(secret["data"]["key"])


def _hmac(key: bytes, triples: list[tuple[str, str, str]]) -> str:
    material = json.dumps(sorted(triples), separators=(",", ":")).encode()
    return hmac.new(key, material, hashlib.sha256).hexdigest()


WEB_TRIPLES = [
    ("web-env", "DATABASE_PASSWORD", SECRETS["db_password"]),
    ("web-env", "SESSION_KEY", SECRETS["session_key"]),
]


def test_k8s_the_hash_is_keyed_by_a_random_key_kept_in_a_secret(
    k8s_plugins: PluginSet, k8s_sim: KubeSimulator, example: Any
) -> None:
    doc = example("quickstart")
    runner = Runner(k8s_plugins, k8s_sim)
    runner.run(doc, "first", SECRETS)
    namespace = _namespace(k8s_plugins, doc)
    key, seen = _stored_key(k8s_sim, namespace), _annotation(k8s_sim, namespace)
    assert len(key) == KEY_BYTES
    # The viewer's offline check (HMAC under the key derived from the public environment id,
    # or a plain SHA-256) of the right guess does not match; the key from the Secret does.
    job = k8s_plugins.loader.load(doc)
    assert isinstance(job, EnvironmentJob)
    assert seen != _hmac(default_hash_key(job.environment), WEB_TRIPLES)
    material = json.dumps(sorted(WEB_TRIPLES), separators=(",", ":")).encode()
    assert seen != hashlib.sha256(material).hexdigest()
    assert seen == _hmac(key, WEB_TRIPLES)

    # Unchanged secrets: the same key, the same annotation, nothing written.
    k8s_sim.clear_requests()
    runner.run(doc, "second", SECRETS)
    assert mutating(k8s_sim) == []
    assert _stored_key(k8s_sim, namespace) == key
    assert _annotation(k8s_sim, namespace) == seen

    # A changed value still rolls the pods.
    runner.run(doc, "third", {**SECRETS, "session_key": "guess-me-3"})
    assert _annotation(k8s_sim, namespace) not in (seen, "")


def test_k8s_the_same_secret_in_two_environments_gives_unrelated_hashes(
    k8s_plugins: PluginSet, k8s_sim: KubeSimulator, example: Any
) -> None:
    runner = Runner(k8s_plugins, k8s_sim)
    docs = [_environment(example("quickstart"), f"env-{n}", f"shop-{n}") for n in ("a", "b")]
    for index, doc in enumerate(docs):
        runner.run(doc, f"job-{index}", SECRETS)
    namespaces = [_namespace(k8s_plugins, doc) for doc in docs]
    keys = [_stored_key(k8s_sim, ns) for ns in namespaces]
    hashes = [_annotation(k8s_sim, ns) for ns in namespaces]
    assert keys[0] != keys[1]
    assert hashes[0] != hashes[1]
    for key, seen in zip(keys, hashes, strict=True):
        assert seen == _hmac(key, WEB_TRIPLES)

    # The key is in nothing the jobs wrote but its own Secret: no other object, no event, no
    # result, in any of the encodings a viewer would meet.
    for key in keys:
        forms = {key.hex(), base64.b64encode(key).decode(), key.decode("latin-1")}
        forms.add(base64.b64encode(base64.b64encode(key)).decode())
        viewable = json.dumps([k8s_sim.objects(r) for r in VIEWABLE])
        others = [s for s in k8s_sim.objects("secrets") if s["metadata"]["name"] != KEY_SECRET]
        record = json.dumps([e.to_json_object() for e in runner.events]) + "".join(runner.results)
        for form in forms:
            assert form not in viewable
            assert form not in json.dumps(others)
            assert form not in record
