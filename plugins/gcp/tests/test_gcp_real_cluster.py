"""The real-GKE tier: a small cluster's whole life on Google Cloud through the command line.
Off unless QENGINE_TEST_GCP=1 (the real_cloud marker is deselected otherwise) and
QENGINE_TEST_GCP_CLUSTER=1 (it takes about half an hour and costs a few cents of nodes and
control plane time, beyond any GKE free tier).

Needs, besides what ``test_gcp_real_cloud.py`` needs (the host's Application Default
Credentials allowed to impersonate ``QENGINE_TEST_GCP_SERVICE_ACCOUNT``,
``QENGINE_TEST_GCP_PROJECT``, optionally ``QENGINE_TEST_GCP_REGION``, default
``europe-west1``): that account holding the roles docs/gcp.md lists for a cluster; network
access for Terraform to the Terraform registry and Google; and the ``hashicorp/google``
provider in a plugin cache ``QENGINE_TEST_TERRAFORM_CACHE`` or a mirror
``QENGINE_TEST_TERRAFORM_MIRROR``.

It runs ``qengine run`` (the real CLI, in a subprocess with the host's environment) on job
documents for a cluster ``qengine-test-<random>``: create (one ``e2-standard-2`` node in one
zone, private nodes, no authorized network, the add-on stack left alone), pause (the pool's
autoscaling minimum and its nodes at zero, read back from GKE and Compute), resume (one node
again), delete (GKE no longer has the cluster). The state bucket it made is deleted at the end.
Everything is labelled ``qengine-test: <run id>`` for a manual clean-up if a run is cut short.
It has never run on the project's machines (no Google access there).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gcp_support import access_for, example
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.node_pools import PoolSize, pool_sizes
from qengine_gcp.settings import GcpSettings
from qengine_gcp.state_backend import storage_client

pytestmark = pytest.mark.real_cloud

RUN = secrets.token_hex(4)
NAME = f"qengine-test-{RUN}"
BUCKET = f"qengine-test-state-{RUN}"
POOL = "general"


def _document(action: str) -> dict[str, Any]:
    document = example()
    region = os.environ.get("QENGINE_TEST_GCP_REGION", "europe-west1")
    document.update(id=f"{NAME}-{action}", action=action)
    document.pop("created_at", None)
    document.pop("not_after", None)
    document["cluster"].update(id=NAME, name=NAME, addons={"manage": False})
    provider = document["cluster"]["provider"]
    provider.update(
        project=os.environ["QENGINE_TEST_GCP_PROJECT"],
        region=region,
        zones=[f"{region}-b"],
        service_account=os.environ["QENGINE_TEST_GCP_SERVICE_ACCOUNT"],
        node_pools=[
            {"name": POOL, "machine_type": "e2-standard-2", "min_nodes": 1, "max_nodes": 1}
        ],
        authorized_networks=[],
        state={"bucket": BUCKET},
        labels={"qengine-test": RUN},
    )
    return document


def _terraform_sources() -> list[str]:
    mirror = os.environ.get("QENGINE_TEST_TERRAFORM_MIRROR")
    cache = os.environ.get("QENGINE_TEST_TERRAFORM_CACHE")
    if mirror:
        return ["--terraform-provider-mirror", mirror]
    if cache:
        return ["--terraform-plugin-cache", cache]
    pytest.fail("set QENGINE_TEST_TERRAFORM_CACHE (or _MIRROR) for the real-GKE tier")


def _run(tmp: Path, action: str) -> Any:
    spec = tmp / f"{action}.json"
    spec.write_text(json.dumps(_document(action)))
    result = subprocess.run(
        [
            sys.executable, "-m", "qengine", "run", str(spec), "--state-dir", str(tmp / "state"),
            "--output", "json", *_terraform_sources(),
        ],
        capture_output=True, text=True, env=dict(os.environ, QENGINE_PLUGINS="gcp"),
        cwd=tmp, timeout=3600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "succeeded"
    return outcome


@pytest.fixture(scope="module")
def access() -> Iterator[GcpAccess]:
    if os.environ.get("QENGINE_TEST_GCP_CLUSTER") != "1":
        pytest.skip("the real-GKE tier also needs QENGINE_TEST_GCP_CLUSTER=1")
    real: GcpAccess = access_for(_document("create"), GcpSettings(token_seconds=900))
    yield real
    found = storage_client(real).lookup_bucket(BUCKET)
    if found is not None:
        found.delete(force=True)


def _pool(access: GcpAccess) -> PoolSize | None:
    return pool_sizes(access, NAME, [POOL]).get(POOL)


def test_a_cluster_is_created_paused_resumed_and_deleted(access: GcpAccess, tmp_path: Path) -> None:
    try:
        created = _run(tmp_path, "create")
        outputs = created["outputs"]["gcp.apply"]
        assert outputs["cluster_name"] == NAME
        assert outputs["endpoint"].startswith("https://")
        assert _pool(access) == PoolSize(min_nodes=1, max_nodes=1, per_zone=(1,))
        _run(tmp_path, "pause")
        assert _pool(access) == PoolSize(min_nodes=0, max_nodes=1, per_zone=(0,))
        _run(tmp_path, "resume")
        assert _pool(access) == PoolSize(min_nodes=1, max_nodes=1, per_zone=(1,))
    finally:
        _run(tmp_path, "delete")
    assert _pool(access) is None
