"""A run-once job's outputs: parsing, name checks, and reading them from a finished pod."""

from __future__ import annotations

import time

import pytest
from k8s_support import sim_settings
from qengine_kubernetes.access import connect
from qengine_kubernetes.outputs import parse_outputs, read_outputs
from qengine_kubernetes.spec import SandboxTarget

from qengine import DeploymentError
from qengine.testing.kube import KubeSimulator

PATTERN = r"^[A-Z][A-Z0-9_]*$"


def test_k8s_outputs_are_a_json_object_of_strings_with_checked_names() -> None:
    assert parse_outputs('{"DB_URL": "postgres://db", "N": "3"}', PATTERN, "j") == {
        "DB_URL": "postgres://db",
        "N": "3",
    }
    assert parse_outputs("  ", PATTERN, "j") == {}
    with pytest.raises(DeploymentError, match="invalid names or non-string values: bad, n"):
        parse_outputs('{"bad": "x", "n": 3, "OK": "y"}', PATTERN, "j")
    with pytest.raises(DeploymentError, match="not JSON"):
        parse_outputs("{nope", PATTERN, "j")
    with pytest.raises(DeploymentError, match="not a JSON object"):
        parse_outputs('["A"]', PATTERN, "j")


def test_k8s_outputs_are_read_from_the_job_pods_last_output_line(k8s_sim: KubeSimulator) -> None:
    k8s_sim.create_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "migrate-1-abcde",
                "namespace": "default",
                "labels": {"job-name": "migrate-1"},
                "annotations": {
                    "sim.qengine.dev/logs": 'starting\nqengine-output: {"SCHEMA": "42"}\nbye'
                },
            },
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "migrate", "image": "example.org/migrate:1"}],
            },
        }
    )
    api = connect(SandboxTarget(kind="sandbox"), sim_settings(k8s_sim))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pod = k8s_sim.get_object("pods", "default", "migrate-1-abcde")
        if pod is not None and pod.get("status", {}).get("phase") == "Succeeded":
            break
        time.sleep(0.05)
    job = {"metadata": {"name": "migrate-1"}}

    assert read_outputs(api, "default", job, PATTERN) == {"SCHEMA": "42"}


def test_k8s_rollout_timeouts_follow_probes_replicas_and_deadlines() -> None:
    from qengine_kubernetes.rollout import rollout_timeout

    probe = {"initialDelaySeconds": 100, "periodSeconds": 30, "timeoutSeconds": 5}
    probe["failureThreshold"] = 10
    template = {"spec": {"containers": [{"name": "c", "readinessProbe": probe}]}}
    deployment = {"kind": "Deployment", "spec": {"replicas": 3, "template": template}}
    assert rollout_timeout(deployment) == 600.0
    probe["failureThreshold"] = 20  # 100 + 35 * 20 = 800
    assert rollout_timeout(deployment) == 800.0
    ordered = {"kind": "StatefulSet", "spec": {"replicas": 3, "template": template}}
    assert rollout_timeout(ordered) == 2400.0
    parallel = {**ordered, "spec": {**ordered["spec"], "podManagementPolicy": "Parallel"}}
    assert rollout_timeout(parallel) == 800.0
    job = {"kind": "Job", "spec": {"activeDeadlineSeconds": 3600, "template": template}}
    assert rollout_timeout(job) == 3660.0
    assert rollout_timeout(deployment, override=2.0) == 2.0
