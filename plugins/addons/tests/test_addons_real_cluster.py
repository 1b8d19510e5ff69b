"""Opt-in: the add-on stack's real upstream charts on a real cluster.

Runs with ``-m real_cluster`` (deselected otherwise) when ``QENGINE_TEST_KUBECONFIG`` names the
kubeconfig of a cluster that has no ``qengine-system`` namespace yet: the test makes it and
removes what it installed. The engine's host needs helm (``QENGINE_HELM`` or
``.ci/get-helm.sh``) and the chart repositories of the freeze file (or
``QENGINE_TEST_ADDONS_MIRROR``, an ``oci://`` or ``https://`` mirror holding them); the
cluster needs the charts' images (quay.io, registry.k8s.io, docker.io, ghcr.io) and, for the
issuers to become Ready, Let's Encrypt's ACME directories (each issuer registers an account).

It installs every add-on that needs no cloud identity (cert-manager and the issuers, Traefik,
metrics-server, Loki and Alloy, kube-prometheus-stack; external-dns and cluster-autoscaler are
the cloud tiers' part), from the freeze file's real charts, their digests trusted on first
use and pinned in the cluster; checks that every release is ``deployed`` and both
ClusterIssuers Ready; runs the same stack again and checks that no release got a new
revision; then turns every add-on off, which uninstalls them, and removes what uninstalling
leaves by design (the CRDs, the pins' ConfigMap, the namespace).
``QENGINE_TEST_ADDONS_OFF`` (flags of ``cluster.addons``, comma-separated, e.g.
``metrics_server`` on a kind cluster whose kubelets serve self-signed certificates) leaves
some out. This tier has not been run by the project's CI (no cluster there).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE, NS
from qengine_addons import AddonSettings, addon_steps, enabled_addons, load_freeze
from qengine_addons.pins import CONFIGMAP as PINS
from qengine_addons.pins import read_pins
from qengine_kubernetes.access import connect
from qengine_kubernetes.client import KubeApi, NotFoundError
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import KubeconfigTarget

from qengine import Event, load_plugins
from qengine.runner import CallbackSink, Executor, JobRef, JobResult, JobStatus, Plan
from qengine.spec import InfrastructureJob

#: The flags of the add-ons that need no cloud identity, all on.
FLAGS = {"cert_manager": True, "ingress": True, "metrics_server": True, "logs": True,
         "metrics": True, "external_dns": False, "autoscaler": False}  # fmt: skip
#: How long the issuers' step waits for cert-manager to register their ACME accounts (its gate).
ISSUERS_READY_WITHIN = 600.0
PART_OF = "app.kubernetes.io/part-of=qengine-addons"


@pytest.fixture
def api() -> KubeApi:
    kubeconfig = os.environ.get("QENGINE_TEST_KUBECONFIG")
    if not kubeconfig:
        pytest.fail("set QENGINE_TEST_KUBECONFIG to run the real_cluster tier", pytrace=False)
    client = connect(KubeconfigTarget(kind="kubeconfig", path=kubeconfig), KubeSettings())
    try:
        client.request("GET", f"/api/v1/namespaces/{NS}")
    except NotFoundError:
        pass
    else:
        pytest.fail(f"the cluster already has a {NS} namespace: use one without", pytrace=False)
    return client


def _job(flags: Mapping[str, bool], job_id: str) -> InfrastructureJob:
    document: dict[str, Any] = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document["id"] = job_id
    document["cluster"]["addons"] = dict(flags)
    mirror = os.environ.get("QENGINE_TEST_ADDONS_MIRROR")
    if mirror:
        document["cluster"]["addons"]["chart_mirror"] = mirror
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws,kubernetes"})
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _run(api: KubeApi, helm: str, job: InfrastructureJob, events: list[Event]) -> JobResult:
    settings = AddonSettings(helm=helm, poll_interval=2.0, gate_timeout=ISSUERS_READY_WITHIN)
    steps = addon_steps(job, lambda _ctx: api, settings)
    ref = JobRef(job_id=job.id, organization_id="org-qengine-test", target_id="cluster/real")
    return Executor().run(Plan(steps), ref, sinks=[CallbackSink(events.append)])


def _releases(api: KubeApi) -> dict[str, tuple[int, str]]:
    """Each release's latest revision and its status, from helm's own records."""
    found = api.request(
        "GET", f"/api/v1/namespaces/{NS}/secrets", query={"labelSelector": "owner=helm"}
    )
    latest: dict[str, tuple[int, str]] = {}
    for secret in found.get("items") or []:
        labels = secret["metadata"]["labels"]
        revision = int(labels["version"])
        if revision >= latest.get(labels["name"], (0, ""))[0]:
            latest[labels["name"]] = (revision, labels["status"])
    return latest


def _issuers_ready(api: KubeApi) -> dict[str, bool]:
    found = api.request("GET", "/apis/cert-manager.io/v1/clusterissuers")
    ready: dict[str, bool] = {}
    for issuer in found.get("items") or []:
        conditions = (issuer.get("status") or {}).get("conditions") or []
        ready[issuer["metadata"]["name"]] = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
        )
    return ready


def _remove_leftovers(api: KubeApi) -> None:
    """What uninstalling leaves by design: the CRDs the stack applied, the pins, the namespace."""
    crds = api.request(
        "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        query={"labelSelector": PART_OF},
    )  # fmt: skip
    for crd in crds.get("items") or []:
        name = crd["metadata"]["name"]
        api.request("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
    for path in (f"/api/v1/namespaces/{NS}/configmaps/{PINS}", f"/api/v1/namespaces/{NS}"):
        with contextlib.suppress(NotFoundError):
            api.request("DELETE", path)


@pytest.mark.real_cluster
def test_the_real_charts_install_rerun_without_revisions_and_uninstall(
    api: KubeApi, helm_binary: str
) -> None:
    off = {f.strip() for f in os.environ.get("QENGINE_TEST_ADDONS_OFF", "").split(",") if f.strip()}
    flags = {flag: on and flag not in off for flag, on in FLAGS.items()}
    job = _job(flags, "addons-real-1")
    wanted = enabled_addons(job, load_freeze())
    events: list[Event] = []
    try:
        first = _run(api, helm_binary, job, events)
        assert first.status is JobStatus.SUCCEEDED, first.error
        releases = _releases(api)
        assert {name: status for name, (_, status) in releases.items()} == {
            name: "deployed" for name in wanted
        }
        # Unrecorded upstream digests were trusted on first use, each pinned with a warning.
        upstream = [a for a in load_freeze().addons if a.name in wanted and not a.builtin]
        pins = (read_pins(api, NS) or {}).get("data") or {}
        assert set(pins) == {f"{a.chart}_{a.version}" for a in upstream if a.digest is None}
        warned = [e.message for e in events if e.type.value == "warning"]
        assert len([m for m in warned if "trusting the archive" in m]) == len(pins)
        if "cluster-issuers" in wanted:
            # The issuers' step ended only once both were Ready (the stack's issuers gate).
            assert _issuers_ready(api) == {"letsencrypt": True, "letsencrypt-staging": True}

        again = _run(api, helm_binary, _job(flags, "addons-real-2"), [])
        assert again.status is JobStatus.SUCCEEDED, again.error
        assert [c for c in again.changes if c.kind == "HelmRelease"] == []
        assert _releases(api) == releases  # not one new revision
    finally:
        none = {flag: False for flag in FLAGS}
        removed = _run(api, helm_binary, _job(none, "addons-real-3"), [])
        left = _releases(api)
        _remove_leftovers(api)
    assert removed.status is JobStatus.SUCCEEDED, removed.error
    assert left == {}


def test_the_tier_documents_how_to_run_it() -> None:
    """The command of docs/testing.md and docs/addons.md names this file and its marker."""
    root = Path(__file__).resolve().parents[3]
    for page in ("testing.md", "addons.md"):
        text = (root / "docs" / page).read_text()
        assert "test_addons_real_cluster.py" in text, page
        assert "QENGINE_TEST_KUBECONFIG" in text, page
