"""The add-on stack on the Kubernetes simulator with the real helm, charts from a local OCI
registry: CRDs first, install order, the webhook gate, no-op reruns, failures rolled back,
pending releases recovered, removed add-ons uninstalled."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from conftest import NS, Apply, Charts, helm_env, push
from qengine_addons import AddonSettings, cluster_client
from qengine_addons.freeze import chart_digest
from qengine_addons.pins import CONFIGMAP as PINS
from qengine_addons.testing import TEST_CHARTS, with_values

from qengine import Event
from qengine.interfaces.cancel import CancelToken
from qengine.runner import CallbackSink, Executor, JobStatus, SqliteStateStore, StepStatus
from qengine.testing.kube import KubeSimulator, PodFault
from qengine.testing.kube.status import ApiError

RELEASE = "sh.helm.release.v1.{name}.v{revision}"


def _release(sim: KubeSimulator, name: str, revision: int) -> dict[str, Any] | None:
    return sim.get_object("secrets", NS, RELEASE.format(name=name, revision=revision))


def _writes(sim: KubeSimulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.requests() if r.mutating]


def _first(sim: KubeSimulator, fragment: str, method: str = "") -> int:
    for index, record in enumerate(sim.requests()):
        if fragment in record.path and record.mutating and record.method.startswith(method):
            return index
    raise AssertionError(f"no write to {fragment}")


FULL = {"cert_manager": True, "ingress": True, "metrics_server": True, "metrics": True}


def test_stack_installs_crds_first_then_releases_in_order_and_a_rerun_writes_nothing(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator
) -> None:
    doc = infra_doc(**FULL)

    first = apply_stack(doc, "addons-1")

    assert first.status is JobStatus.SUCCEEDED, first.error
    for crd in (
        "clusterissuers.cert-manager.io",
        "certificates.cert-manager.io",
        "ingressroutes.traefik.io",
        "servicemonitors.monitoring.coreos.com",
    ):
        live = sim.get_object("customresourcedefinitions.apiextensions.k8s.io", "", crd)
        assert live is not None, crd
        assert "qengine.dev/applied-digest" in live["metadata"]["annotations"]
    # CRDs before any release; cert-manager (and its webhook) before the issuers it validates.
    first_crd = _first(sim, "/customresourcedefinitions/", "PATCH")
    assert first_crd < _first(sim, "/secrets", "POST")
    assert _release(sim, "cert-manager", 1) is not None
    issuers = sim.objects("clusterissuers.cert-manager.io", None)
    assert sorted(i["metadata"]["name"] for i in issuers) == ["letsencrypt", "letsencrypt-staging"]
    solver = issuers[0]["spec"]["acme"]["solvers"][0]["http01"]["ingress"]
    assert solver["ingressClassName"] == "nginx"
    # The issuers' step ends only once cert-manager has registered their ACME accounts.
    for issuer in issuers:
        [ready] = [c for c in issuer["status"]["conditions"] if c["type"] == "Ready"]
        assert (ready["status"], ready["reason"]) == ("True", "ACMEAccountRegistered")
    for name in ("cert-manager", "traefik", "metrics-server", "external-dns", "cluster-issuers",
                 "kube-prometheus-stack"):  # fmt: skip
        assert _release(sim, name, 1) is not None, name
    assert _release(sim, "loki", 1) is None  # logs is off
    step_ids = [s.step_id for s in first.steps]
    assert step_ids.index("addons.crds") < step_ids.index("addons.cert-manager")

    sim.clear_requests()
    again = apply_stack(doc, "addons-2")

    assert again.status is JobStatus.SUCCEEDED, again.error
    assert _writes(sim) == []
    assert _release(sim, "cert-manager", 2) is None
    assert all(s.outputs.get("changed") != "true" for s in again.steps if s.outputs)


def test_changed_values_upgrade_only_that_release(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, charts: Charts
) -> None:
    doc = infra_doc(cert_manager=False, ingress=True, metrics_server=True)
    assert apply_stack(doc, "up-1").status is JobStatus.SUCCEEDED

    changed = with_values(charts.freeze, "traefik", replicas={"traefik": 2})
    result = apply_stack(doc, "up-2", freeze=changed)

    assert result.status is JobStatus.SUCCEEDED, result.error
    assert _release(sim, "traefik", 2) is not None
    assert _release(sim, "metrics-server", 2) is None
    deployment = sim.get_object("deployments.apps", NS, "traefik")
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 2


def test_the_webhook_gate_stops_before_objects_the_webhook_would_refuse(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, charts: Charts
) -> None:
    # The webhook's Deployment has no replica: helm's --wait is satisfied, the Service has no
    # ready endpoint, and the API server refuses what the webhook validates.
    no_webhook = with_values(charts.freeze, "cert-manager", replicas={"cert-manager-webhook": 0})

    result = apply_stack(infra_doc(cert_manager=True), "gate-1", freeze=no_webhook,
                         gate_timeout=1.0)  # fmt: skip

    assert result.status is not JobStatus.SUCCEEDED
    assert result.error is not None
    assert "webhook.cert-manager.io has no ready endpoint" in result.error.message
    failed = [s.step_id for s in result.steps if s.status is StepStatus.FAILED]
    assert failed == ["addons.cert-manager"]
    assert sim.objects("clusterissuers.cert-manager.io", None) == []
    # What the gate prevents: a ClusterIssuer written now is refused by the API server.
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "early"},
        "spec": {"selfSigned": {}},
    }
    with pytest.raises(ApiError) as refused:
        sim.create_object(issuer)
    assert 'no endpoints available for service "cert-manager-webhook"' in refused.value.message


def test_a_failing_upgrade_is_rolled_back_and_named(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, charts: Charts
) -> None:
    doc = infra_doc(cert_manager=False, ingress=False, metrics_server=True)
    assert apply_stack(doc, "fail-1").status is JobStatus.SUCCEEDED
    sim.faults.add_pod(PodFault(kind="ReadinessFailure", image="bad-image"))
    broken = with_values(charts.freeze, "metrics-server", image="bad-image:1")

    result = apply_stack(doc, "fail-2", freeze=broken, timeout=3)

    assert result.status is not JobStatus.SUCCEEDED
    assert result.error is not None
    assert "add-on metrics-server failed" in result.error.message
    assert "rolled the release back to revision" in result.error.message
    assert "not ready within 3s" in (result.error.hint or "")
    deployment = sim.get_object("deployments.apps", NS, "metrics-server")
    assert deployment is not None
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert "bad-image" not in image


def test_a_failing_first_install_is_uninstalled(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, charts: Charts
) -> None:
    sim.faults.add_pod(PodFault(kind="ReadinessFailure", image="bad-image"))
    broken = with_values(charts.freeze, "metrics-server", image="bad-image:1")
    doc = infra_doc(cert_manager=False, ingress=False, metrics_server=True)

    result = apply_stack(doc, "first-fail", freeze=broken, timeout=3)

    assert result.error is not None
    assert "uninstalled its first install" in result.error.message
    assert sim.get_object("deployments.apps", NS, "metrics-server") is None


def _mark_pending(sim: KubeSimulator, name: str, revision: int, state: str) -> None:
    secret = _release(sim, name, revision)
    assert secret is not None
    raw = base64.b64decode(base64.b64decode(secret["data"]["release"]))
    release = json.loads(gzip.decompress(raw))
    release["info"]["status"] = state
    packed = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    secret["data"]["release"] = base64.b64encode(packed).decode()
    secret["metadata"]["labels"]["status"] = state
    ca = sim.ca_pem
    api = cluster_client(sim.url, ca.decode() if isinstance(ca, bytes) else str(ca), sim.token)
    api.request("PUT", f"/api/v1/namespaces/{NS}/secrets/{secret['metadata']['name']}", body=secret)


def test_a_release_left_pending_upgrade_is_recovered(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, charts: Charts
) -> None:
    doc = infra_doc(cert_manager=False, ingress=False, metrics_server=True)
    assert apply_stack(doc, "pend-1").status is JobStatus.SUCCEEDED
    changed = with_values(charts.freeze, "metrics-server", replicas={"metrics-server": 2})
    assert apply_stack(doc, "pend-2", freeze=changed).status is JobStatus.SUCCEEDED
    _mark_pending(sim, "metrics-server", 2, "pending-upgrade")

    result = apply_stack(doc, "pend-3", freeze=changed)

    assert result.status is JobStatus.SUCCEEDED, result.error
    latest = max(
        int(s["metadata"]["labels"]["version"])
        for s in sim.objects("secrets", NS)
        if s["metadata"].get("labels", {}).get("name") == "metrics-server"
    )
    top = _release(sim, "metrics-server", latest)
    assert top is not None
    assert top["metadata"]["labels"]["status"] == "deployed"
    assert latest == 4  # 3: the rollback that unlocked it, 4: the upgrade asked again


def test_a_removed_addon_is_uninstalled_and_its_crds_stay(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator
) -> None:
    with_metrics = infra_doc(cert_manager=False, ingress=False, metrics_server=False, metrics=True)
    assert apply_stack(with_metrics, "rm-1").status is JobStatus.SUCCEEDED
    assert sim.get_object("deployments.apps", NS, "kube-prometheus-stack-operator") is not None

    without = infra_doc(cert_manager=False, ingress=False, metrics_server=False, metrics=False)
    result = apply_stack(without, "rm-2")

    assert result.status is JobStatus.SUCCEEDED, result.error
    assert _release(sim, "kube-prometheus-stack", 1) is None
    assert sim.get_object("deployments.apps", NS, "kube-prometheus-stack-operator") is None
    crd = "servicemonitors.monitoring.coreos.com"
    assert sim.get_object("customresourcedefinitions.apiextensions.k8s.io", "", crd) is not None


def test_a_chart_whose_digest_differs_from_the_freeze_is_refused(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, charts: Charts
) -> None:
    wrong = attrs.evolve(
        charts.freeze,
        addons=tuple(
            attrs.evolve(a, digest="sha256:" + "0" * 64) if a.name == "metrics-server" else a
            for a in charts.freeze.addons
        ),
    )
    doc = infra_doc(cert_manager=False, ingress=False, metrics_server=True)

    result = apply_stack(doc, "digest-1", freeze=wrong)

    assert result.error is not None
    assert "not the pinned sha256:000" in result.error.message
    assert _release(sim, "metrics-server", 1) is None


def _unrecorded(charts: Charts, name: str = "metrics-server") -> Any:
    return attrs.evolve(
        charts.freeze,
        addons=tuple(
            attrs.evolve(a, digest=None) if a.name == name else a for a in charts.freeze.addons
        ),
    )


def test_strict_mode_refuses_a_chart_without_a_recorded_digest(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, charts: Charts
) -> None:
    doc = infra_doc(cert_manager=False, ingress=False, metrics_server=True)

    result = apply_stack(doc, "digest-2", freeze=_unrecorded(charts), require_digests=True)

    assert result.error is not None
    assert "metrics-server" in result.error.message
    assert "is not recorded in the freeze file" in result.error.message
    assert result.error.kind == "InvalidInputError"
    assert _release(sim, "metrics-server", 1) is None
    assert sim.get_object("configmaps", NS, PINS) is None  # nothing pinned either


def test_strict_mode_is_the_engine_hosts_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QENGINE_ADDONS_REQUIRE_DIGESTS", raising=False)
    assert AddonSettings().require_digests is False
    monkeypatch.setenv("QENGINE_ADDONS_REQUIRE_DIGESTS", "1")
    assert AddonSettings().require_digests is True


def _tofu_archive(helm: str, tmp: Path, marker: str) -> Path:
    """The metrics-server test chart at its own version, its content changed by ``marker``:
    another archive under the same name and version."""
    chart = tmp / marker / "metrics-server"
    shutil.copytree(TEST_CHARTS / "metrics-server", chart)
    values = chart / "values.yaml"
    values.write_text(values.read_text() + f"# {marker}\n")
    subprocess.run(
        [helm, "package", str(chart), "-d", str(tmp / marker)],
        env=helm_env(tmp / "home"), check=True, capture_output=True,
    )  # fmt: skip
    return next((tmp / marker).glob("*.tgz"))


def test_an_unrecorded_chart_is_pinned_on_first_use_and_a_swapped_archive_refused(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, charts: Charts, helm_binary: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Trust on first use: the first install pins the archive's digest in the cluster with a
    warning naming chart, version and digest; the same archive again writes nothing; another
    archive pushed under the same version is refused by name and installs nothing."""
    # A repository of its own, so the swap touches no other test's charts.
    mirror = f"oci://{charts.registry.host}/tofu-charts"
    original = _tofu_archive(helm_binary, tmp_path, "original")
    subprocess.run(
        [helm_binary, "push", str(original), mirror, "--plain-http"],
        env=helm_env(tmp_path / "home"), check=True, capture_output=True,
    )  # fmt: skip
    doc = infra_doc(cert_manager=False, ingress=False, metrics_server=True, external_dns=False,
                    autoscaler=False)  # fmt: skip
    doc["cluster"]["addons"]["chart_mirror"] = mirror
    unrecorded = _unrecorded(charts)
    events: list[Event] = []

    first = apply_stack(doc, "tofu-1", freeze=unrecorded,
                        run_options={"sinks": [CallbackSink(events.append)]})  # fmt: skip

    assert first.status is JobStatus.SUCCEEDED, first.error
    digest = chart_digest(original)
    pins = sim.get_object("configmaps", NS, PINS)
    assert pins is not None
    assert pins["data"] == {"metrics-server_0.1.0": digest}
    assert pins["metadata"]["labels"]["app.kubernetes.io/part-of"] == "qengine-addons"
    warnings = [e.message for e in events if e.type.value == "warning"]
    assert len(warnings) == 1, warnings
    assert "metrics-server 0.1.0" in warnings[0]
    assert digest in warnings[0]
    assert _release(sim, "metrics-server", 1) is not None

    sim.clear_requests()
    again = apply_stack(doc, "tofu-2", freeze=unrecorded)
    assert again.status is JobStatus.SUCCEEDED, again.error
    assert _writes(sim) == []

    swapped = _tofu_archive(helm_binary, tmp_path, "swapped")
    assert chart_digest(swapped) != digest
    subprocess.run(
        [helm_binary, "push", str(swapped), mirror, "--plain-http"],
        env=helm_env(tmp_path / "home"), check=True, capture_output=True,
    )  # fmt: skip
    changed = with_values(unrecorded, "metrics-server", replicas={"metrics-server": 2})
    sim.clear_requests()

    refused = apply_stack(doc, "tofu-3", freeze=changed)

    assert refused.status is not JobStatus.SUCCEEDED
    assert refused.error is not None
    message = refused.error.message
    assert "add-on metrics-server" in message
    assert f"{chart_digest(swapped)}, not {digest}" in message
    assert [s.step_id for s in refused.steps if s.status is StepStatus.FAILED] == ["addons.crds"]
    assert _writes(sim) == []  # neither the pin nor the release moved
    assert _release(sim, "metrics-server", 2) is None


def test_a_job_killed_during_an_install_is_resumed_where_it_stopped(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, tmp_path: Any
) -> None:
    doc = infra_doc(cert_manager=False, ingress=True, metrics_server=True)
    store = SqliteStateStore(tmp_path / "state")
    token = CancelToken()

    def watch(event: Event) -> None:
        # Stop the job while helm installs traefik (helm is killed, as by SIGTERM).
        if event.type.value == "log" and event.step_id == "addons.traefik":
            token.cancel("SIGTERM", force=True)

    stopped = apply_stack(
        doc, "resume-1", executor=Executor(store=store, max_parallel=1),
        run_options={"sinks": [CallbackSink(watch)], "cancel": token},
    )  # fmt: skip
    assert stopped.status is JobStatus.CANCELLED
    done_before = {s.step_id for s in stopped.steps if s.status is StepStatus.SUCCEEDED}
    assert "addons.crds" in done_before
    assert "addons.traefik" not in done_before

    resumed = apply_stack(doc, "resume-1", executor=Executor(store=store, max_parallel=1))

    assert resumed.status is JobStatus.SUCCEEDED, resumed.error
    skipped = {s.step_id for s in resumed.steps if s.status is StepStatus.SKIPPED}
    assert done_before <= skipped
    assert _release(sim, "traefik", 1) is not None or _release(sim, "traefik", 2) is not None
    deployment = sim.get_object("deployments.apps", NS, "traefik")
    assert deployment is not None


def test_a_new_chart_version_upgrades_its_crd_and_its_release(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, charts: Charts, helm_binary: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    doc = infra_doc(cert_manager=False, ingress=True, metrics_server=False)
    assert apply_stack(doc, "crd-1").status is JobStatus.SUCCEEDED
    crd_name = "ingressroutes.traefik.io"
    before = sim.get_object("customresourcedefinitions.apiextensions.k8s.io", "", crd_name)
    assert before is not None
    assert [v["name"] for v in before["spec"]["versions"]] == ["v1alpha1"]
    # Version 0.2.0 of the chart serves a second version of its CRD (in crds/, which helm
    # itself would never upgrade).
    chart = tmp_path / "traefik"
    shutil.copytree(TEST_CHARTS / "traefik", chart)
    meta = chart / "Chart.yaml"
    meta.write_text(meta.read_text().replace("version: 0.1.0", "version: 0.2.0"))
    crd_file = chart / "crds" / "ingressroutes.yaml"
    crd = yaml.safe_load(crd_file.read_text())
    crd["spec"]["versions"][0]["storage"] = False
    crd["spec"]["versions"].append({**crd["spec"]["versions"][0], "name": "v1", "storage": True})
    crd_file.write_text(yaml.safe_dump(crd))
    archives = tmp_path / "archives"
    subprocess.run(
        [helm_binary, "package", str(chart), "-d", str(archives)],
        env=helm_env(tmp_path / "home"), check=True, capture_output=True,
    )  # fmt: skip
    archive = archives / "traefik-0.2.0.tgz"
    push(helm_binary, archive, charts.registry, tmp_path / "home")
    newer = attrs.evolve(
        charts.freeze,
        addons=tuple(
            attrs.evolve(a, version="0.2.0", digest=chart_digest(archive))
            if a.name == "traefik"
            else a
            for a in charts.freeze.addons
        ),
    )

    result = apply_stack(doc, "crd-2", freeze=newer)

    assert result.status is JobStatus.SUCCEEDED, result.error
    after = sim.get_object("customresourcedefinitions.apiextensions.k8s.io", "", crd_name)
    assert after is not None
    assert [v["name"] for v in after["spec"]["versions"]] == ["v1alpha1", "v1"]
    assert _release(sim, "traefik", 2) is not None


def test_a_release_left_pending_install_is_uninstalled_then_installed(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator
) -> None:
    doc = infra_doc(cert_manager=False, ingress=False, metrics_server=True)
    assert apply_stack(doc, "pinst-1").status is JobStatus.SUCCEEDED
    _mark_pending(sim, "metrics-server", 1, "pending-install")
    first_uid = _release(sim, "metrics-server", 1)["metadata"]["uid"]  # type: ignore[index]
    events: list[Event] = []

    result = apply_stack(doc, "pinst-2", run_options={"sinks": [CallbackSink(events.append)]})

    assert result.status is JobStatus.SUCCEEDED, result.error
    again = _release(sim, "metrics-server", 1)
    assert again is not None
    assert again["metadata"]["labels"]["status"] == "deployed"
    assert again["metadata"]["uid"] != first_uid  # uninstalled, then installed anew
    assert any("stuck at revision 1" in e.message for e in events)


def test_charts_from_a_local_directory_need_no_registry(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator, charts: Charts
) -> None:
    doc = infra_doc(cert_manager=False, ingress=False, metrics_server=True)
    doc["cluster"]["addons"].pop("chart_mirror")

    result = apply_stack(doc, "dir-1", chart_dir=str(charts.directory), plain_http=False)

    assert result.status is JobStatus.SUCCEEDED, result.error
    assert _release(sim, "metrics-server", 1) is not None


def test_an_identity_read_at_step_time_annotates_the_service_account_and_is_in_the_marker(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator
) -> None:
    """A cloud plugin whose role ARN only its apply step knows gives a function: called inside
    the add-on's step, never when the plan is built; the account gets the annotations and the
    release's name for it; the same identity again writes nothing, another one upgrades."""
    doc = infra_doc(cert_manager=False, ingress=False, metrics_server=False)
    calls: list[str] = []

    def identity(arn: str) -> Any:
        def read(ctx: Any) -> dict[str, str]:
            calls.append(ctx.step_id)
            return {"eks.amazonaws.com/role-arn": arn}

        return read

    role = "arn:aws:iam::123456789012:role/prod-eu-external-dns"
    first = apply_stack(doc, "id-1", service_accounts={"external-dns": identity(role)})

    assert first.status is JobStatus.SUCCEEDED, first.error
    assert calls == ["addons.external-dns"]
    account = sim.get_object("serviceaccounts", NS, "external-dns")
    assert account is not None
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role
    deployment = sim.get_object("deployments.apps", NS, "external-dns")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "external-dns"

    sim.clear_requests()
    again = apply_stack(doc, "id-2", service_accounts={"external-dns": identity(role)})
    assert again.status is JobStatus.SUCCEEDED, again.error
    assert _writes(sim) == []

    other = role.replace("prod-eu", "other")
    moved = apply_stack(doc, "id-3", service_accounts={"external-dns": identity(other)})
    assert moved.status is JobStatus.SUCCEEDED, moved.error
    assert _release(sim, "external-dns", 2) is not None
    account = sim.get_object("serviceaccounts", NS, "external-dns")
    assert account is not None
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == other


def test_dns01_issuers_and_cert_managers_identity_with_no_ingress_controller(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator
) -> None:
    """DNS-01 needs no ingress controller: the issuers wait for cert-manager only, solve in the
    job's Route53 zone with no credential, and cert-manager's service account carries the
    role the blueprint made (read inside the step, as the cloud plugins give it); an
    unchanged re-run writes nothing."""
    doc = infra_doc(cert_manager=True, ingress=False, metrics_server=False,
                    acme_challenge="dns01")  # fmt: skip
    doc["dns"]["zone_id"] = "Z0123456789ABC"
    role = "arn:aws:iam::123456789012:role/prod-eu-cert-manager"
    calls: list[str] = []

    def read(ctx: Any) -> dict[str, str]:
        calls.append(ctx.step_id)
        return {"eks.amazonaws.com/role-arn": role}

    first = apply_stack(doc, "dns01-1", service_accounts={"cert-manager": read})

    assert first.status is JobStatus.SUCCEEDED, first.error
    assert sorted(calls) == ["addons.cert-manager", "addons.cluster-issuers"]
    assert _release(sim, "traefik", 1) is None
    issuers = sim.objects("clusterissuers.cert-manager.io", None)
    assert len(issuers) == 2
    for issuer in issuers:
        assert issuer["spec"]["acme"]["solvers"] == [
            {"dns01": {"route53": {"region": "eu-west-3", "hostedZoneID": "Z0123456789ABC"}}}
        ]
    account = sim.get_object("serviceaccounts", NS, "cert-manager")
    assert account is not None
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role
    controller = sim.get_object("deployments.apps", NS, "cert-manager")
    assert controller is not None
    assert controller["spec"]["template"]["spec"]["serviceAccountName"] == "cert-manager"

    sim.clear_requests()
    again = apply_stack(doc, "dns01-2", service_accounts={"cert-manager": read})
    assert again.status is JobStatus.SUCCEEDED, again.error
    assert _writes(sim) == []


def test_issuers_that_cert_manager_cannot_set_up_fail_their_step_with_its_message(
    apply_stack: Apply, infra_doc: Any, sim: KubeSimulator
) -> None:
    """The cluster cannot reach Let's Encrypt (no ACME directory is reachable from the
    simulator): the issuers are installed but never Ready, and their step fails saying why,
    in cert-manager's words."""
    sim.acme_directories.clear()
    doc = infra_doc(cert_manager=True, ingress=True, metrics_server=False)

    result = apply_stack(doc, "issuers-1", gate_timeout=1.0)

    assert result.status is not JobStatus.SUCCEEDED
    assert result.error is not None
    failed = [s.step_id for s in result.steps if s.status is StepStatus.FAILED]
    assert failed == ["addons.cluster-issuers"]
    assert "ClusterIssuers not Ready after 1s" in result.error.message
    assert (
        "ErrRegisterACMEAccount: Failed to register ACME account: "
        'Get "https://acme-v02.api.letsencrypt.org/directory": dial tcp: lookup '
        "acme-v02.api.letsencrypt.org: no such host"
    ) in result.error.message
    assert "egress" in result.error.hint

    # Once the cluster reaches the directories, the same job succeeds.
    sim.acme_directories.update(
        {
            "https://acme-v02.api.letsencrypt.org/directory",
            "https://acme-staging-v02.api.letsencrypt.org/directory",
        }
    )
    again = apply_stack(doc, "issuers-2")
    assert again.status is JobStatus.SUCCEEDED, again.error
