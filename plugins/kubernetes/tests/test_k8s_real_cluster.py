"""Opt-in: deploy, redeploy and delete a small environment on a real cluster.

Runs with ``-m real_cluster`` when ``QENGINE_TEST_KUBECONFIG`` names a kubeconfig; the
environment gets its own namespace (derived from a random environment id) and is deleted.
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from k8s_support import DEMO_SECRETS

from qengine import Engine, PluginSet
from qengine.runner import JobStatus, MemoryStateStore

Example = Callable[[str], dict[str, Any]]


@pytest.mark.real_cluster
def test_k8s_deploy_redeploy_and_delete_on_a_real_cluster(
    k8s_plugins: PluginSet, example: Example
) -> None:
    kubeconfig = os.environ.get("QENGINE_TEST_KUBECONFIG")
    if not kubeconfig:
        pytest.fail("set QENGINE_TEST_KUBECONFIG to run the real_cluster tier", pytrace=False)
    doc = example("quickstart")
    doc["target"] = {"kind": "kubeconfig", "path": kubeconfig}
    doc["environment"]["id"] = f"env-{uuid.uuid4().hex[:12]}"
    doc["environment"]["delete_data"] = True
    doc["environment"]["services"] = [
        {
            "kind": "container",
            "name": "pause",
            "image": "registry.k8s.io/pause",
            "tag": "3.9",
            "ports": [{"port": 8080}],
            "env": {"PASSWORD": {"secret": "db_password"}},
        }
    ]
    engine = Engine(k8s_plugins, store=MemoryStateStore())

    def run(job_id: str, action: str) -> Any:
        document = copy.deepcopy(doc)
        document["id"], document["action"] = job_id, action
        return engine.run(document, sandbox_secrets=DEMO_SECRETS)

    try:
        first = run("real-1", "deploy")
        assert first.status is JobStatus.SUCCEEDED, first.error
        second = run("real-2", "deploy")
        assert second.status is JobStatus.SUCCEEDED, second.error
        assert second.changes == ()
    finally:
        gone = run("real-3", "delete")
    assert gone.status is JobStatus.SUCCEEDED, gone.error
