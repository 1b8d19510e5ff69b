"""The ``existing`` provider end to end: the add-on stack installed by the real helm (test
charts) on the Kubernetes simulator playing a cluster qengine did not create, reached through
its kubeconfig as a user's would be, or as the sandbox's cluster; the quickstart deployed onto
it; an unchanged re-run writing nothing; ``delete`` uninstalling the releases and leaving the
cluster and the CRDs; a cluster at another version refused."""

from __future__ import annotations

import copy
import datetime
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qengine_addons import AddonSettings
from qengine_addons.existing_engine import ExistingSettings

from qengine import Engine, Event, load_plugins
from qengine.plugin import SANDBOX_CLUSTER, CancelToken, SandboxCluster, SandboxSession
from qengine.runner import JobStatus, MemoryStateStore
from qengine.testing.kube import KubeSimulator

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
EXAMPLE = EXAMPLES / "existing-cluster" / "job.json"
QUICKSTART = EXAMPLES / "quickstart" / "job.json"
NS = "qengine-system"
CRDS = "customresourcedefinitions.apiextensions.k8s.io"
# The example's stack: cert-manager, its issuers, Traefik and metrics-server by default, and
# logs (Loki, Alloy); no dns section, so no external-dns.
RELEASES = {"cert-manager", "cluster-issuers", "traefik", "metrics-server", "loki", "alloy"}
# When the example's jobs were issued (their not_after is an hour later).
ISSUED = datetime.datetime(2026, 11, 29, 10, 30, tzinfo=datetime.UTC)

pytestmark = pytest.mark.slow

Doc = dict[str, Any]


def _job(**changes: object) -> Doc:
    document: Doc = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document.update(changes)
    return document


def _writes(sim: KubeSimulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.requests() if r.mutating]


def _releases(sim: KubeSimulator) -> set[str]:
    """The Helm releases of the stack's namespace, from helm's own records."""
    records = sim.objects("secrets", NS)
    return {r["metadata"]["labels"]["name"] for r in records if _helm_record(r)}


def _crds(sim: KubeSimulator) -> set[str]:
    return {c["metadata"]["name"] for c in sim.objects(CRDS)}


def _helm_record(secret: dict[str, Any]) -> bool:
    return bool(secret.get("metadata", {}).get("labels", {}).get("owner") == "helm")


@pytest.fixture
def sim() -> Iterator[KubeSimulator]:
    with KubeSimulator(readiness_delay=0.05) as simulator:
        yield simulator


def _engine(helm: str, store: MemoryStateStore | None = None) -> Engine:
    """An engine of a host: the add-ons' helm and the test charts (the simulator runs no real
    chart), the cluster where the job's section says."""
    settings = ExistingSettings(
        addons=AddonSettings(helm=helm, test_charts=True, timeout=30, poll_interval=0.1)
    )
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "addons,kubernetes"})
    return Engine(
        plugins,
        store=store or MemoryStateStore(),
        settings={"addons": settings},
        clock=lambda: ISSUED,
    )


def _on(sim: KubeSimulator, **changes: object) -> Doc:
    """The example aimed at the simulator through its kubeconfig (context of its own)."""
    document = _job(**changes)
    document["cluster"]["provider"] = {"kind": "existing", "kubeconfig": str(sim.kubeconfig_path)}
    return document


def test_create_upgrade_rerun_and_delete_through_a_kubeconfig(
    sim: KubeSimulator, helm_binary: str
) -> None:
    engine = _engine(helm_binary)
    created = engine.run(_on(sim))
    assert created.status is JobStatus.SUCCEEDED, created.error
    ids = [o.step_id for o in created.steps]
    assert ids[0] == "existing.preflight"
    assert created.outputs["existing.preflight"]["server_version"] == "1.31"
    assert _releases(sim) == RELEASES
    assert sim.get_object("namespaces", "", NS) is not None

    # Unchanged: a new job (a new id) on the same cluster sends no write at all.
    sim.clear_requests()
    again = engine.run(_on(sim, id="existing-platform-create-0002"))
    assert again.status is JobStatus.SUCCEEDED, again.error
    assert _writes(sim) == []
    assert [c for c in again.changes if c.kind == "HelmRelease"] == []

    # An upgrade on the cluster as it is: the stack brought to the job, nothing to change.
    sim.clear_requests()
    upgraded = engine.run(_on(sim, id="existing-platform-upgrade-0001", action="upgrade"))
    assert upgraded.status is JobStatus.SUCCEEDED, upgraded.error
    assert _writes(sim) == []

    # Logs turned off: their releases are uninstalled, the rest untouched.
    fewer = _on(sim, id="existing-platform-create-0003")
    fewer["cluster"]["addons"] = {"logs": False}
    assert engine.run(fewer).status is JobStatus.SUCCEEDED
    assert _releases(sim) == RELEASES - {"loki", "alloy"}

    # Delete: every release of the stack uninstalled; the CRDs, the namespace, the cluster stay.
    crds = _crds(sim)
    assert "clusterissuers.cert-manager.io" in crds
    deleted = engine.run(_on(sim, id="existing-platform-delete-0001", action="delete"))
    assert deleted.status is JobStatus.SUCCEEDED, deleted.error
    assert deleted.steps[0].step_id == "existing.preflight"
    assert {o.step_id for o in deleted.steps if o.step_id.startswith("addons.remove.")} >= {
        f"addons.remove.{name}" for name in RELEASES
    }
    assert _releases(sim) == set()
    removed = {c.name for c in deleted.changes if c.kind == "HelmRelease"}
    assert removed == RELEASES - {"loki", "alloy"}  # those two were gone already
    left = _crds(sim)
    assert crds <= left
    assert sim.get_object("namespaces", "", NS) is not None


def test_a_cluster_at_another_version_is_refused_with_both_versions(
    helm_binary: str,
) -> None:
    with KubeSimulator(readiness_delay=0.05, server_version="1.30") as old:
        result = _engine(helm_binary).run(_on(old))
        assert result.status is JobStatus.FAILED
        assert result.error is not None
        assert "runs Kubernetes 1.30" in result.error.message
        assert "asks for 1.31" in result.error.message
        assert "does not upgrade a cluster it did not create" in (result.error.hint or "")
        failed = [o.step_id for o in result.steps if o.status.value == "failed"]
        assert failed == ["existing.preflight"]
        assert _writes(old) == []  # nothing was installed
        # A delete does not care which version the cluster runs.
        gone = _on(old, id="existing-platform-delete-0001", action="delete")
        assert _engine(helm_binary).run(gone).status is JobStatus.SUCCEEDED


def test_a_cancelled_job_resumes_after_its_last_finished_step(
    sim: KubeSimulator, helm_binary: str
) -> None:
    store = MemoryStateStore()
    token = CancelToken()

    def stop_after_cert_manager(event: Event) -> None:
        if event.type.value == "step.finished" and event.step_id == "addons.cert-manager":
            token.cancel("the host is shutting down")

    stopped = _engine(helm_binary, store).run(
        _on(sim), on_event=stop_after_cert_manager, cancel=token
    )
    assert stopped.status is JobStatus.CANCELLED
    unfinished = {o.step_id for o in stopped.steps if o.status.value != "succeeded"}
    assert unfinished  # the stack was stopped part of the way
    events: list[Event] = []
    resumed = _engine(helm_binary, store).run(_on(sim), on_event=events.append)
    assert resumed.status is JobStatus.SUCCEEDED, resumed.error
    started = {e.step_id for e in events if e.type.value == "step.started"}
    assert {"existing.preflight", "addons.crds", "addons.cert-manager"}.isdisjoint(started)
    assert started <= unfinished  # only what the cancelled run left is run again
    assert _releases(sim) == RELEASES


def _certificate_ready(sim: KubeSimulator, namespace: str, name: str) -> dict[str, Any]:
    """The router's Certificate once Ready (the simulator issues it on its own thread)."""
    deadline = time.monotonic() + 30
    while True:
        cert = sim.get_object("certificates.cert-manager.io", namespace, name)
        conditions = (cert or {}).get("status", {}).get("conditions", [])
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            assert cert is not None
            return cert
        assert time.monotonic() < deadline, conditions
        time.sleep(0.1)


def test_the_sandbox_reuses_the_session_cluster_and_the_quickstart_is_served_by_the_stack(
    sim: KubeSimulator, helm_on_host: str
) -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "addons,kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore())
    secrets = json.loads(QUICKSTART.with_name("secrets.json").read_text())
    with SandboxSession() as session:
        ca = sim.ca_pem.decode() if isinstance(sim.ca_pem, bytes) else str(sim.ca_pem)
        session.put(SANDBOX_CLUSTER, SandboxCluster(endpoint=sim.url, ca_pem=ca, token=sim.token))
        created = engine.run(_job(), sandbox=session)
        assert created.status is JobStatus.SUCCEEDED, created.error
        assert _releases(sim) == RELEASES  # the session's cluster is the one it installed on

        deployed = engine.run(
            json.loads(QUICKSTART.read_text()), sandbox=session, sandbox_secrets=secrets
        )
        assert deployed.status is JobStatus.SUCCEEDED, deployed.error
        ingresses = sim.objects("ingresses.networking.k8s.io")
        public = next(i for i in ingresses if i["metadata"]["name"] == "public")
        # Served by the stack: the class Traefik serves, an issuer the stack installed, the
        # load balancer's address.
        assert public["spec"]["ingressClassName"] == "nginx"
        issuer = public["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        issuers = sim.objects("clusterissuers.cert-manager.io")
        assert issuer in {i["metadata"]["name"] for i in issuers}
        assert public["status"]["loadBalancer"]["ingress"]
        namespace = public["metadata"]["namespace"]
        secret_name = public["spec"]["tls"][0]["secretName"]
        cert = _certificate_ready(sim, namespace, secret_name)
        assert cert["spec"]["issuerRef"]["name"] == issuer

        sim.clear_requests()
        again = engine.run(_job(id="existing-platform-create-0002"), sandbox=session)
        assert again.status is JobStatus.SUCCEEDED, again.error
        assert _writes(sim) == []


def test_cli_sandbox_installs_the_stack_and_deploys_the_quickstart(
    tmp_path: Path, helm_binary: str
) -> None:
    """``qengine run examples/existing-cluster/job.json examples/quickstart/job.json
    --sandbox``, as the README says: one session, a simulator made for the first job and
    reused by the second."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env["PYTHONPATH"] = ":".join(sys.path)
    env["QENGINE_HELM"] = helm_binary
    result = subprocess.run(
        [
            sys.executable, "-m", "qengine", "run", str(EXAMPLE), str(QUICKSTART), "--sandbox",
            "--state-dir", str(tmp_path / "state"), "--output", "json",
        ],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SANDBOX" in result.stderr
    existing, quickstart = json.loads(result.stdout)
    assert existing["status"] == "succeeded"
    steps = [s["step_id"] for s in existing["steps"]]
    assert steps[:2] == ["existing.preflight", "addons.crds"]
    assert {f"addons.{name}" for name in RELEASES} <= set(steps)
    installed = {c["name"] for c in existing["changes"] if c["kind"] == "HelmRelease"}
    assert installed == RELEASES
    assert quickstart["status"] == "succeeded"
    routed = [s for s in quickstart["steps"] if s["step_id"] == "kubernetes/service/public"]
    assert [s["status"] for s in routed] == ["succeeded"]


def test_the_annotations_of_an_identity_the_user_made_reach_the_add_ons_accounts(
    sim: KubeSimulator, helm_binary: str
) -> None:
    """external-dns on a Route53 zone and cert-manager solving DNS-01 there, with the roles
    the user made (qengine makes none on an existing cluster): each service account carries
    its annotation, and the issuers' solver names no region (the section has none)."""
    document = _on(sim, dns={"kind": "route53", "zone": "apps.example.com", "zone_id": "Z1"})
    document["cluster"]["addons"] = {"acme_challenge": "dns01"}
    roles = {
        name: {"eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/platform-{name}"}
        for name in ("external-dns", "cert-manager")
    }
    document["cluster"]["provider"]["service_accounts"] = roles
    settings = ExistingSettings(
        addons=AddonSettings(helm=helm_binary, test_charts=True, timeout=30, poll_interval=0.1)
    )
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "addons,aws"})
    engine = Engine(
        plugins, store=MemoryStateStore(), settings={"addons": settings}, clock=lambda: ISSUED
    )
    result = engine.run(document)
    assert result.status is JobStatus.SUCCEEDED, result.error
    for name, role in roles.items():
        account = sim.get_object("serviceaccounts", NS, name)
        assert account is not None, name
        assert role.items() <= account["metadata"]["annotations"].items()
    issuer = sim.get_object("clusterissuers.cert-manager.io", "", "letsencrypt")
    assert issuer is not None
    [solver] = issuer["spec"]["acme"]["solvers"]
    assert solver["dns01"] == {"route53": {"hostedZoneID": "Z1"}}
