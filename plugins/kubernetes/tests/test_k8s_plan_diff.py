"""``qengine plan`` asks the cluster: create on an empty one, unchanged after a run, the fields
a spec change changes, deletes of pruned objects; done steps from the journal; no mutating
request but dry-runs; no secret value shown; "not known" when the cluster cannot be asked."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from k8s_support import DEMO_SECRETS, is_lease_traffic, sim_settings
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.steps import NAMESPACE_STEP, PRUNE_STEP, step_id

from qengine import Engine, PluginSet
from qengine.cli import main
from qengine.interfaces.state import StateStore
from qengine.runner import MemoryStateStore
from qengine.runner.plan import OFFLINE, PlanReport, PlanStepState, Verdict
from qengine.spec import EnvironmentJob, secret_references
from qengine.testing.kube import KubeSimulator

Example = Callable[[str], dict[str, Any]]
OBJECTS = 18  # what the quickstart applies: namespace, policy and 16 service objects


def _secrets(plugins: PluginSet, doc: dict[str, Any], **changed: str) -> dict[str, str]:
    references = {name for _, name in secret_references(plugins.loader.load(doc))}
    values = {name: DEMO_SECRETS.get(name, f"value-of-{name}") for name in references}
    values.update({k: v for k, v in changed.items() if k in values})
    return values


class Cluster:
    """One simulator, one journal: plan and run jobs against them."""

    def __init__(self, plugins: PluginSet, sim: KubeSimulator, store: StateStore) -> None:
        self.plugins = plugins
        self.sim = sim
        self.store = store

    def engine(self, settings: KubeSettings | None = None) -> Engine:
        chosen = settings if settings is not None else sim_settings(self.sim)
        return Engine(self.plugins, store=self.store, settings={"kubernetes": chosen})

    def plan(
        self, doc: dict[str, Any], *, settings: KubeSettings | None = None, **changed: str
    ) -> PlanReport:
        engine = self.engine(settings)
        accepted = engine.accept(
            doc, sandbox_secrets=_secrets(self.plugins, doc, **changed), consume=False
        )
        return engine.preview(accepted, engine.plan(accepted))

    def run(self, doc: dict[str, Any]) -> None:
        result = self.engine().run(doc, sandbox_secrets=_secrets(self.plugins, doc))
        assert result.status.value == "succeeded", result

    def writes(self) -> list[str]:
        """Mutating requests that were not dry-runs (the job's Lease traffic left out)."""
        return [
            f"{r.method} {r.path}?{r.query}"
            for r in self.sim.requests()
            if r.mutating and not is_lease_traffic(r.path) and "dryRun=All" not in r.query
        ]

    def dry_runs(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.sim.requests() if "dryRun=All" in r.query]


@pytest.fixture
def cluster(k8s_plugins: PluginSet, k8s_sim: KubeSimulator) -> Cluster:
    return Cluster(k8s_plugins, k8s_sim, MemoryStateStore())


def _objects(report: PlanReport) -> dict[tuple[str, str], Any]:
    return {(o.kind, o.name): o for r in report.steps for o in r.preview.objects}


def _with_id(doc: dict[str, Any], job_id: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["id"] = job_id
    return out


def _service(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["environment"]["services"] if s["name"] == name)
    return found


def test_k8s_plan_on_an_empty_cluster_creates_everything_and_writes_nothing(
    cluster: Cluster, example: Example
) -> None:
    report = cluster.plan(example("quickstart"))
    summary = report.summary()
    assert summary == {
        "create": OBJECTS,
        "update": 0,
        "delete": 0,
        "unchanged": 0,
        "steps_done": 0,
        "steps_unknown": 0,
    }
    assert {o.action for o in _objects(report).values()} == {Verdict.CREATE}
    assert ("Deployment", "web") in _objects(report)
    assert cluster.writes() == []
    assert "Plan: 18 to create, 0 to update, 0 to delete, 0 unchanged." in report.render()


def test_k8s_plan_after_a_run_shows_the_journal_and_an_unchanged_cluster(
    cluster: Cluster, example: Example
) -> None:
    doc = example("quickstart")
    cluster.run(_with_id(doc, "job-first"))
    before = len(cluster.writes())

    again = cluster.plan(_with_id(doc, "job-first"))
    assert {r.state for r in again.steps} == {PlanStepState.DONE}
    assert "done by an earlier run; `run` would skip it" in again.render()
    assert again.summary()["steps_done"] == len(again.steps)

    fresh = cluster.plan(_with_id(doc, "job-second"))
    assert fresh.summary() == {
        "create": 0,
        "update": 0,
        "delete": 0,
        "unchanged": OBJECTS,
        "steps_done": 0,
        "steps_unknown": 0,
    }
    assert "Plan: 0 to create, 0 to update, 0 to delete, 18 unchanged." in fresh.render()
    # The plans asked with reads and dry-runs only; the dry-runs are what existed.
    assert len(cluster.writes()) == before
    assert len(cluster.dry_runs()) == OBJECTS - 1  # the run-once Job is immutable: read only


def test_k8s_plan_after_a_spec_change_names_the_changed_fields_and_the_pruned_objects(
    cluster: Cluster, example: Example
) -> None:
    doc = example("quickstart")
    cluster.run(_with_id(doc, "job-first"))
    changed = _with_id(doc, "job-second")
    web = _service(changed, "web")
    web["tag"] = "1.5.0"
    web["env"]["DATABASE_HOST"] = "db-replica"
    web["autoscaling"]["min_replicas"] = 3
    web["replicas"] = 3
    del web["resources"]["memory_limit"]
    changed["environment"]["services"].remove(_service(changed, "worker"))
    for service in changed["environment"]["services"]:
        service["depends_on"] = [d for d in service.get("depends_on", []) if d != "worker"]
        for route in service.get("routes", []):
            assert route["service"] != "worker"
    writes = len(cluster.writes())

    report = cluster.plan(changed)
    objects = _objects(report)
    deployment = objects[("Deployment", "web")]
    assert deployment.action is Verdict.UPDATE
    fields = {f.path: (f.before, f.after) for f in deployment.fields}
    container = "spec.template.spec.containers[web]"
    assert fields == {
        f"{container}.image": (
            '"ghcr.io/example/shop-api:1.4.2"',
            '"ghcr.io/example/shop-api:1.5.0"',
        ),
        f"{container}.env[DATABASE_HOST].value": ('"db"', '"db-replica"'),
        f"{container}.resources.limits.memory": ('"512Mi"', None),
    }
    hpa = objects[("HorizontalPodAutoscaler", "web")]
    assert [(f.path, f.before, f.after) for f in hpa.fields] == [("spec.minReplicas", "2", "3")]
    prune = next(r for r in report.steps if r.step.id == PRUNE_STEP)
    assert {(o.action, o.kind, o.name) for o in prune.preview.objects} == {
        (Verdict.DELETE, "Deployment", "worker"),
        (Verdict.DELETE, "Secret", "worker-env"),
        (Verdict.DELETE, "ServiceAccount", "worker"),
        (Verdict.DELETE, "Secret", "qengine-history-worker"),
    }
    assert objects[("Service", "web")].action is Verdict.UNCHANGED
    summary = report.summary()
    assert (summary["update"], summary["delete"]) == (2, 4)
    assert len(cluster.writes()) == writes


def test_k8s_plan_never_shows_a_secret_value(cluster: Cluster, example: Example) -> None:
    doc = example("quickstart")
    cluster.run(_with_id(doc, "job-first"))
    changed = _with_id(doc, "job-second")
    _service(changed, "web")["env"]["API_TOKEN"] = {"secret": "session_key"}
    report = cluster.plan(changed, session_key="a-brand-new-session-key-value")
    secret = _objects(report)[("Secret", "web-env")]
    assert secret.action is Verdict.UPDATE
    assert [(f.path, f.before, f.after) for f in secret.fields] == [
        ("data.API_TOKEN", None, "(secret)")
    ]
    assert secret.note == "values not compared"
    text = report.render() + json.dumps(report.to_json())
    for value in [*DEMO_SECRETS.values(), "a-brand-new-session-key-value"]:
        assert value not in text
    assert "qengine-placeholder" not in text


def test_k8s_plan_says_not_known_when_the_cluster_cannot_be_asked(
    cluster: Cluster, example: Example
) -> None:
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = KubeSettings(endpoint=f"https://127.0.0.1:{port}", token="t")
    report = cluster.plan(example("quickstart"), settings=closed)
    assert {r.state for r in report.steps} == {PlanStepState.UNKNOWN}
    assert all("the cluster could not be asked" in r.preview.unknown for r in report.steps)
    text = report.render()
    assert text.count(OFFLINE) == len(report.steps) + 1  # each step, and the totals
    assert "to create" in text
    assert "0 to create" in text.splitlines()[-1]


def test_k8s_plan_cli_offline_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], example: Example
) -> None:
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(example("quickstart")))
    (tmp_path / "secrets.json").write_text(json.dumps(DEMO_SECRETS))
    state = ["--state-dir", str(tmp_path / "state")]
    assert main(["plan", str(spec), "--sandbox", *state, "--offline"]) == 0
    text = capsys.readouterr().out
    assert text.count(f"{OFFLINE} (--offline)") == 8
    assert "+ create" not in text
    assert "~ update" not in text

    assert main(["plan", str(spec), "--sandbox", *state, "-o", "json"]) == 0
    asked = json.loads(capsys.readouterr().out)
    assert asked["summary"]["create"] == OBJECTS
    steps = {s["id"]: s for s in asked["steps"]}
    assert steps[NAMESPACE_STEP]["state"] == "known"
    web = {(c["kind"], c["name"]): c["action"] for c in steps[step_id("web")]["changes"]}
    assert web[("Deployment", "web")] == "create"
    assert main(["plan", str(spec), "--sandbox", *state, "--offline", "-o", "json"]) == 0
    offline = json.loads(capsys.readouterr().out)
    assert {s["state"] for s in offline["steps"]} == {"unknown"}
    assert offline["summary"]["steps_unknown"] == len(offline["steps"])
    assert {c["action"] for s in offline["steps"] for c in s["changes"]} == {"unknown"}


def test_k8s_plan_tells_drift_that_run_leaves_alone(cluster: Cluster, example: Example) -> None:
    from qengine_kubernetes.access import connect

    doc = example("quickstart")
    cluster.run(_with_id(doc, "job-first"))
    job = cluster.plugins.loader.load(doc)
    assert isinstance(job, EnvironmentJob)
    api = connect(job.target, sim_settings(cluster.sim))
    namespace = cluster.plan(doc).steps[0].preview.objects[0].name
    api.merge_patch("ServiceAccount", namespace, "web", {"automountServiceAccountToken": True})

    report = cluster.plan(_with_id(doc, "job-second"))
    account = _objects(report)[("ServiceAccount", "web")]
    assert account.action is Verdict.UNCHANGED
    assert [(f.path, f.before, f.after) for f in account.fields] == [
        ("automountServiceAccountToken", "true", "false")
    ]
    assert "`run` leaves it so" in account.note
    # And so it does: a run of the same spec rewrites nothing of it.
    cluster.run(_with_id(doc, "job-second"))
    live = api.get("ServiceAccount", namespace, "web")
    assert live is not None
    assert live["automountServiceAccountToken"] is True


def test_k8s_plan_of_a_delete_lists_what_exists(cluster: Cluster, example: Example) -> None:
    doc = example("quickstart")
    cluster.run(_with_id(doc, "job-first"))
    delete = _with_id(doc, "job-delete")
    delete["action"] = "delete"
    writes = len(cluster.writes())

    report = cluster.plan(delete)
    steps = {r.step.id: r.preview for r in report.steps}
    web = {(o.action, o.kind, o.name) for o in steps[step_id("web")].objects}
    assert (Verdict.DELETE, "Deployment", "web") in web
    assert (Verdict.DELETE, "Secret", "web-env") in web
    assert "data-db-0" in steps[step_id("db")].note  # kept: delete_data is off
    assert "is kept" in steps[NAMESPACE_STEP].note
    assert steps[NAMESPACE_STEP].objects == ()

    delete["environment"]["delete_data"] = True
    report = cluster.plan(delete)
    steps = {r.step.id: r.preview for r in report.steps}
    db = {(o.kind, o.name) for o in steps[step_id("db")].objects}
    assert ("PersistentVolumeClaim", "data-db-0") in db
    assert [(o.action, o.kind) for o in steps[NAMESPACE_STEP].objects] == [
        (Verdict.DELETE, "Namespace")
    ]
    assert len(cluster.writes()) == writes

    cluster.run(delete)
    after = cluster.plan(_with_id(delete, "job-delete-again"))
    assert after.summary()["delete"] == 0
    assert all("does not exist" in r.preview.note for r in after.steps)
