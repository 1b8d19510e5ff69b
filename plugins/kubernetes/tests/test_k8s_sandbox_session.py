"""Environment jobs run one after the other in one sandbox session share its simulator."""

from __future__ import annotations

import json
import ssl
import urllib.request
from typing import Any

from k8s_support import QUICKSTART

from qengine import Engine, SandboxSession, load_plugins
from qengine.runner import JobStatus, MemoryStateStore


def _job(job_id: str, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(QUICKSTART.read_text())
    document["id"] = job_id
    document["environment"] = dict(document["environment"], id=f"env-{name}", name=name)
    return document


def _namespaces(endpoint: str, ca_pem: str, token: str) -> set[str]:
    request = urllib.request.Request(
        endpoint + "/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}
    )
    tls = ssl.create_default_context(cadata=ca_pem)
    with urllib.request.urlopen(request, context=tls, timeout=10) as reply:
        items = json.loads(reply.read())["items"]
    return {item["metadata"]["name"] for item in items}


def test_jobs_of_one_session_deploy_onto_one_simulator() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore())
    secrets = json.loads(QUICKSTART.with_name("secrets.json").read_text())
    with SandboxSession() as session:
        first = engine.run(_job("shop-0001", "shop"), sandbox_secrets=secrets, sandbox=session)
        cluster = session.cluster()
        second = engine.run(_job("blog-0001", "blog"), sandbox_secrets=secrets, sandbox=session)
        assert first.status is second.status is JobStatus.SUCCEEDED
        assert cluster is not None
        assert session.cluster() == cluster
        ours = {n for n in _namespaces(cluster.endpoint, cluster.ca_pem, cluster.token) if "-" in n}
        assert {n.split("-")[1] for n in ours if n.startswith("qe-")} == {"shop", "blog"}


def test_without_a_session_each_run_has_its_own_simulator() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore())
    secrets = json.loads(QUICKSTART.with_name("secrets.json").read_text())
    with SandboxSession() as session:
        engine.run(_job("shop-0001", "shop"), sandbox_secrets=secrets, sandbox=session)
        cluster = session.cluster()
        assert cluster is not None
        alone = engine.run(_job("blog-0001", "blog"), sandbox_secrets=secrets, sandbox=True)
        assert alone.status is JobStatus.SUCCEEDED
        names = _namespaces(cluster.endpoint, cluster.ca_pem, cluster.token)
        assert not any(n.startswith("qe-blog-") for n in names)
        assert any(n.startswith("qe-shop-") for n in names)


def test_a_job_run_again_on_its_own_sandbox_deploys_again(tmp_path: Any) -> None:
    """``Engine.run(..., sandbox=True)`` gets new stand-ins every time: a journal kept in the
    engine's store would find every step done and skip them against an empty simulator."""
    from qengine.runner import SqliteStateStore, StepStatus

    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "kubernetes"})
    engine = Engine(plugins, store=SqliteStateStore(tmp_path / "state"))
    secrets = json.loads(QUICKSTART.with_name("secrets.json").read_text())
    runs = [engine.run(_job("shop-0001", "shop"), sandbox_secrets=secrets, sandbox=True)]
    runs.append(engine.run(_job("shop-0001", "shop"), sandbox_secrets=secrets, sandbox=True))
    for run in runs:
        assert run.status is JobStatus.SUCCEEDED
        assert {o.status for o in run.steps} == {StepStatus.SUCCEEDED}
        assert run.changes  # each run created the environment on its own simulator
    assert engine.store.job_status("shop-0001") is None  # the host's journal is not used
