"""The stage DAG: databases, before-start jobs, workloads, after-start jobs, routers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qengine_kubernetes.stages import Stage, service_dag, stage_of, topological_order

from qengine.spec import EnvAction, EnvironmentJob

Load = Callable[[dict[str, Any]], EnvironmentJob]
Example = Callable[[str], dict[str, Any]]


def _services() -> list[dict[str, Any]]:
    image = {"image": "example/app", "tag": "1"}
    return [
        {
            "kind": "router",
            "name": "edge",
            "domains": ["a.example.com"],
            "routes": [{"service": "web"}],
        },
        {"kind": "job", "name": "warm", "schedule": {"on": "after_start"}, **image},
        {"kind": "container", "name": "web", "ports": [{"port": 80}], **image},
        {"kind": "container", "name": "worker", **image, "depends_on": ["web"]},
        {"kind": "job", "name": "migrate", "schedule": {"on": "before_start"}, **image},
        {"kind": "database", "name": "db", "engine": "redis", "version": "7"},
        {"kind": "job", "name": "cleanup", "schedule": {"on": "on_delete"}, **image},
    ]


def _job(load: Load, example: Example, action: str = "deploy") -> EnvironmentJob:
    doc = example("quickstart")
    doc["environment"]["services"] = _services()
    doc["action"] = action
    return load(doc)


def test_k8s_stage_of_each_kind(load_env_job: Load, example: Example) -> None:
    stages = {s.name: stage_of(s) for s in _job(load_env_job, example).environment.services}
    assert stages == {
        "db": Stage.DATABASES,
        "migrate": Stage.BEFORE_START,
        "web": Stage.WORKLOADS,
        "worker": Stage.WORKLOADS,
        "warm": Stage.AFTER_START,
        "edge": Stage.ROUTERS,
        "cleanup": None,
    }


def test_k8s_deploy_order(load_env_job: Load, example: Example) -> None:
    dag = service_dag(_job(load_env_job, example).environment.services, EnvAction.DEPLOY)
    assert dag == {
        "edge": ("warm",),
        "warm": ("web", "worker"),
        "web": ("migrate",),
        "worker": ("migrate", "web"),
        "migrate": ("db",),
        "db": (),
    }
    assert topological_order(dag) == ["db", "migrate", "web", "worker", "warm", "edge"]


def test_k8s_delete_runs_the_hook_first_then_reverse_order(
    load_env_job: Load, example: Example
) -> None:
    job = _job(load_env_job, example, "delete")
    dag = service_dag(job.environment.services, EnvAction.DELETE)
    order = topological_order(dag)
    assert order == ["cleanup", "edge", "warm", "worker", "web", "migrate", "db"]
    # The explicit dependency is reversed too: worker goes before web.
    assert "worker" in dag["web"]


def test_k8s_pause_is_the_reverse_without_hooks(load_env_job: Load, example: Example) -> None:
    dag = service_dag(_job(load_env_job, example).environment.services, EnvAction.PAUSE)
    assert "cleanup" not in dag
    assert topological_order(dag) == ["edge", "warm", "worker", "web", "migrate", "db"]
    assert dag["db"] == ("migrate",)
