"""The freeze file: one place pinning every add-on's chart, exact version, digest and default
values; the test charts' freeze mirrors it; bad entries are refused by name."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from conftest import EXAMPLE, helm_env
from qengine_addons import (
    FLAGS,
    addon_enabled,
    addon_steps,
    addon_values,
    autoscaler_image_tag,
    autoscaler_wanted,
    dns01_wanted,
    enabled_addons,
    load_freeze,
    service_account_subject,
)
from qengine_addons.freeze import FREEZE_FILE, chart_digest, main, parse_freeze, record_digests
from qengine_addons.stack import CHARTS
from qengine_addons.testing import TEST_CHARTS, package_test_charts

from qengine import PluginSet, load_plugins
from qengine.plugin import InvalidInputError
from qengine.spec import InfrastructureJob

RETIRED = ("ingress-nginx", "promtail")


def test_the_freeze_pins_every_addon_a_flag_turns_on_at_an_exact_version() -> None:
    freeze = load_freeze()
    flagged = {name for names in FLAGS.values() for name in names}
    assert flagged == set(freeze.names())
    for addon in freeze.addons:
        assert addon.repository.startswith("https://") or addon.builtin, addon.name
        assert not any(c in addon.version for c in "^~*x><= "), addon.name
        assert addon.chart not in RETIRED
        assert addon.digest is None or addon.digest.startswith("sha256:")
        for need in addon.needs:
            assert freeze.names().index(need) < freeze.names().index(addon.name)
    # The real stack's components, by their upstream repositories.
    repositories = {a.name: a.repository for a in freeze.addons}
    assert repositories["external-dns"] == "https://kubernetes-sigs.github.io/external-dns"
    assert repositories["cert-manager"] == "https://charts.jetstack.io"


def test_the_test_freeze_has_the_same_addons_order_and_needs() -> None:
    real, test = load_freeze(), load_freeze(TEST_CHARTS / "freeze.json")
    assert real.names() == test.names()
    for ours, theirs in zip(real.addons, test.addons, strict=True):
        assert ours.needs == theirs.needs
        assert ours.builtin == theirs.builtin
        assert set(ours.crd_values) == set(theirs.crd_values)
        assert (TEST_CHARTS / ours.chart).is_dir() or ours.builtin


def test_the_stack_serves_the_gateway_api_and_the_test_charts_do_as_well(
    helm_binary: str, tmp_path: Path
) -> None:
    """Routers with ``routing: gateway`` need Traefik's Gateway provider and its GatewayClass
    (no default Gateway: each environment makes its own) and cert-manager's gateway-shim; the
    Gateway API CRDs come with the Traefik chart (its crds/, applied by the CRD step)."""
    real, test = load_freeze(), load_freeze(TEST_CHARTS / "freeze.json")
    traefik = real.get("traefik").values
    assert traefik["providers"]["kubernetesGateway"] == {"enabled": True}
    assert traefik["gateway"] == {"enabled": False}
    assert traefik["gatewayClass"] == {"enabled": True, "name": "traefik"}
    assert real.get("cert-manager").values["config"]["enableGatewayAPI"] is True
    env = helm_env(tmp_path)

    def render(name: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        (tmp_path / f"{name}.json").write_text(json.dumps(values))
        text = subprocess.run(
            [helm_binary, "template", name, str(TEST_CHARTS / name), "--include-crds",
             "-f", str(tmp_path / f"{name}.json")],
            env=env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return [d for d in yaml.safe_load_all(text) if d]

    objects = render("traefik", test.get("traefik").values)
    crds = {d["metadata"]["name"] for d in objects if d["kind"] == "CustomResourceDefinition"}
    assert {"gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io"} <= crds
    (gateway_class,) = [d for d in objects if d["kind"] == "GatewayClass"]
    assert gateway_class["metadata"]["name"] == "traefik"
    assert gateway_class["spec"]["controllerName"] == "traefik.io/gateway-controller"
    manager = render("cert-manager", test.get("cert-manager").values)
    (controller,) = [
        d for d in manager if d["kind"] == "Deployment" and d["metadata"]["name"] == "cert-manager"
    ]
    assert controller["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "--enable-gateway-api"
    ]


def test_unrecorded_upstream_digests_are_listed_for_the_record_tool() -> None:
    # Digests of upstream charts can only be recorded where their repositories answer; until
    # then the engine refuses them (test_a_chart_without_a_recorded_digest_is_refused).
    unrecorded = [a.name for a in load_freeze().addons if a.digest is None and not a.builtin]
    assert set(unrecorded) <= set(load_freeze().names())


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"version": "^1.2"}, "addons[0].version"),
        ({"version": "1.2"}, "addons[0].version"),
        ({"digest": "md5:abc"}, "addons[0].digest"),
        ({"repository": "http://insecure.example.com"}, "addons[0].repository"),
        ({"needs": ["later"]}, "addons[0].needs"),
        ({"timeout": 0}, "addons[0].timeout"),
        ({"surprise": 1}, "addons[0]"),
    ],
)
def test_a_bad_freeze_entry_is_refused_by_its_path(change: dict[str, object], where: str) -> None:
    data = json.loads(FREEZE_FILE.read_text())
    data["addons"][0].update(change)
    with pytest.raises(InvalidInputError) as caught:
        parse_freeze(data)
    assert caught.value.message.startswith(f"freeze file: {where} ")


def test_record_writes_the_archives_digests(tmp_path: Path, helm_binary: str) -> None:
    freeze = package_test_charts(helm_binary, tmp_path / "archives")
    target = tmp_path / "freeze.json"
    target.write_text((TEST_CHARTS / "freeze.json").read_text())

    assert main(["record", str(tmp_path / "archives"), str(target)]) == 0

    recorded = load_freeze(target)
    for addon in freeze.addons:
        assert recorded.get(addon.name).digest == addon.digest
        if not addon.builtin:
            archive = tmp_path / "archives" / f"{addon.chart}-{addon.version}.tgz"
            assert addon.digest == chart_digest(archive)
    assert record_digests(target, tmp_path / "nothing-here") == []


def test_the_builtin_issuers_chart_lints_and_renders_both_issuers(
    helm_binary: str, tmp_path: Path
) -> None:
    chart = CHARTS / "cluster-issuers"
    env = helm_env(tmp_path)
    lint = subprocess.run([helm_binary, "lint", str(chart)], env=env, capture_output=True)
    assert lint.returncode == 0, lint.stdout
    rendered = subprocess.run(
        [helm_binary, "template", "x", str(chart), "--set", "email=ops@example.com"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert rendered.count("kind: ClusterIssuer") == 2
    assert "acme-staging-v02.api.letsencrypt.org" in rendered
    assert 'email: "ops@example.com"' in rendered


def test_job_values_wire_external_dns_to_the_zone_and_the_cloud_identity(
    plugins: PluginSet,
) -> None:
    document = json.loads(EXAMPLE.read_text())
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    freeze = load_freeze()
    identity = {"external-dns": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/dns"}}

    values = addon_values(freeze.get("external-dns"), job, identity)

    assert values["provider"] == {"name": "aws"}
    assert values["domainFilters"] == ["prod.example.com"]
    assert values["txtOwnerId"] == "cluster-prod-eu"
    assert values["policy"] == "upsert-only"  # the freeze's default is kept
    assert values["serviceAccount"]["annotations"] == identity["external-dns"]
    # Named as the trust of the cloud's identity names it, whatever the chart's default.
    assert values["serviceAccount"]["name"] == "external-dns"
    assert service_account_subject("external-dns") == (
        "system:serviceaccount:qengine-system:external-dns"
    )
    assert "serviceAccount" not in addon_values(freeze.get("external-dns"), job)
    issuers = addon_values(freeze.get("cluster-issuers"), job)
    assert issuers["ingressClassName"] == "nginx"
    assert enabled_addons(job, freeze) == [
        "cert-manager", "traefik", "metrics-server", "external-dns", "cluster-autoscaler",
        "cluster-issuers", "loki", "alloy", "kube-prometheus-stack",
    ]  # fmt: skip
    without_dns = plugins.loader.load({k: v for k, v in document.items() if k != "dns"})
    assert isinstance(without_dns, InfrastructureJob)
    assert "external-dns" not in enabled_addons(without_dns, freeze)
    assert addon_enabled(job, "external-dns")
    assert not addon_enabled(without_dns, "external-dns")
    document["cluster"]["addons"] = {"manage": False}
    unmanaged = plugins.loader.load(document)
    assert isinstance(unmanaged, InfrastructureJob)
    assert not addon_enabled(unmanaged, "external-dns")  # the stack installs nothing


def test_job_values_wire_cluster_autoscaler_to_the_cluster_region_version_and_identity(
    plugins: PluginSet,
) -> None:
    document = json.loads(EXAMPLE.read_text())
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    addon = load_freeze().get("cluster-autoscaler")
    assert addon.repository == "https://kubernetes.github.io/autoscaler"
    role = {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/prod-eu-cluster-autoscaler"}

    values = addon_values(addon, job, {"cluster-autoscaler": role})

    assert values["autoDiscovery"] == {"clusterName": "prod-eu"}
    assert values["awsRegion"] == "eu-west-3"
    assert values["image"] == {"tag": "v1.32.1"}  # the example's Kubernetes 1.32
    assert values["cloudProvider"] == "aws"  # the freeze's default is kept
    # The chart takes its service account under rbac.serviceAccount, not serviceAccount.
    assert values["rbac"]["serviceAccount"] == {
        "create": True,
        "name": "cluster-autoscaler",
        "annotations": role,
    }
    assert "serviceAccount" not in values
    assert "annotations" not in addon_values(addon, job)["rbac"]["serviceAccount"]


@pytest.mark.parametrize(
    ("version", "tag"),
    [("1.28", "v1.28.7"), ("1.31", "v1.31.2"), ("1.33", "v1.33.0"), ("1.34", "v1.34.0")],
)
def test_the_autoscaler_image_matches_the_cluster_minor_version(version: str, tag: str) -> None:
    assert autoscaler_image_tag(version) == tag


def _example(plugins: PluginSet, change: Any) -> InfrastructureJob:
    document = json.loads(EXAMPLE.read_text())
    change(document)
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _fixed(document: dict[str, Any]) -> None:
    for group in document["cluster"]["provider"]["node_groups"]:
        group.update(min_size=2, max_size=2, desired_size=2)


def _addons(document: dict[str, Any], **addons: bool) -> None:
    document["cluster"]["addons"] = addons


@pytest.mark.parametrize(
    ("change", "wanted"),
    [
        pytest.param(lambda d: None, True, id="a-group-may-grow"),
        pytest.param(_fixed, False, id="fixed-sizes"),
        pytest.param(lambda d: (_fixed(d), _addons(d, autoscaler=True)), True, id="asked-for"),
        pytest.param(lambda d: _addons(d, autoscaler=False), False, id="off"),
        pytest.param(lambda d: _addons(d, manage=False), False, id="unmanaged"),
    ],
)
def test_cluster_autoscaler_runs_on_eks_when_a_node_group_may_grow_or_when_asked(
    plugins: PluginSet, change: Any, wanted: bool
) -> None:
    job = _example(plugins, change)
    assert addon_enabled(job, "cluster-autoscaler") is wanted
    if job.cluster.addons.manage:
        assert autoscaler_wanted(job) is wanted
        assert ("cluster-autoscaler" in enabled_addons(job, load_freeze())) is wanted


@pytest.mark.parametrize("cloud", ["gke", "aks"])
def test_gke_and_aks_never_run_cluster_autoscaler(cloud: str) -> None:
    """Their node pools autoscale themselves: the add-on is off, whatever the pools' ranges
    (and the clouds' checks refuse the field: tests/specs/invalid-semantic)."""
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,azure,kubernetes"})
    document = json.loads((EXAMPLE.parents[1] / cloud / "job.json").read_text())
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    assert not addon_enabled(job, "cluster-autoscaler")
    assert "cluster-autoscaler" not in enabled_addons(job, load_freeze())


def test_an_unmanaged_stack_has_no_step(plugins: PluginSet) -> None:
    document = json.loads(EXAMPLE.read_text())
    document["cluster"]["addons"] = {"manage": False}
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)

    def connect(_ctx: object) -> Any:
        raise AssertionError("an unmanaged stack never reaches the cluster")

    assert addon_steps(job, connect) == []


CLOUD_DNS = {
    "gke": {"kind": "cloud-dns", "project": "acme-dns", "zone": "prod.example.com",
            "managed_zone": "prod-example",
            "service_account": "qengine-dns@acme-dns.iam.gserviceaccount.com"},
    "aks": {"kind": "azure-dns", "subscription_id": "00000000-1111-2222-3333-555555555555",
            "tenant_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "client_id": "12345678-90ab-cdef-1234-567890abcdef", "workload_identity": True,
            "resource_group": "rg-dns", "zone": "prod.example.com"},
}  # fmt: skip
#: What each cloud's blueprint gives cert-manager's service account, and the solver it makes.
DNS01 = {
    "aws-eks": (
        {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/prod-eu-cert-manager"},
        {"route53": {"region": "eu-west-3", "hostedZoneID": "Z0123456789ABC"}},
    ),
    "gke": (
        {"iam.gke.io/gcp-service-account": "cert-manager-0123456789@acme.iam.gserviceaccount.com"},
        {"cloudDNS": {"project": "acme-dns", "hostedZoneName": "prod-example"}},
    ),
    "aks": (
        {"azure.workload.identity/client-id": "99999999-8888-7777-6666-555555555555"},
        {
            "azureDNS": {
                "subscriptionID": "00000000-1111-2222-3333-555555555555",
                "resourceGroupName": "rg-dns",
                "hostedZoneName": "prod.example.com",
                "environment": "AzurePublicCloud",
                "managedIdentity": {"clientID": "99999999-8888-7777-6666-555555555555"},
            }
        },
    ),
}


def _dns01_job(example: str, **addons: object) -> InfrastructureJob:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws,gcp,azure,kubernetes"})
    document = json.loads((EXAMPLE.parents[1] / example / "job.json").read_text())
    if example == "aws-eks":
        document["dns"]["zone_id"] = "/hostedzone/Z0123456789ABC"
    else:
        document["dns"] = CLOUD_DNS[example]
    document["cluster"]["addons"] = {"acme_challenge": "dns01", **addons}
    job = plugins.loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


@pytest.mark.parametrize("example", sorted(DNS01))
def test_dns01_issuers_solve_in_the_jobs_zone_with_cert_managers_ambient_identity(
    example: str,
) -> None:
    """No credential in the solver (no accessKeyID, serviceAccountSecretRef, clientSecret): the
    controller's workload identity, whose annotations reach its service account."""
    identity, solver = DNS01[example]
    job = _dns01_job(example)
    freeze = load_freeze()
    accounts = {"cert-manager": identity}

    issuers = addon_values(freeze.get("cluster-issuers"), job, accounts)
    controller = addon_values(freeze.get("cert-manager"), job, accounts)

    assert issuers["dns01"] == solver
    assert controller["serviceAccount"] == {"name": "cert-manager", "annotations": identity}
    labels = controller.get("podLabels", {})
    # AKS's webhook projects the federated token only into pods labelled for it.
    assert labels == ({"azure.workload.identity/use": "true"} if example == "aks" else {})
    assert dns01_wanted(job)
    http01 = attrs.evolve(job.cluster.addons, acme_challenge="http01")
    job = attrs.evolve(job, cluster=attrs.evolve(job.cluster, addons=http01))
    assert not dns01_wanted(job)
    assert "dns01" not in addon_values(freeze.get("cluster-issuers"), job, accounts)
    assert "podLabels" not in addon_values(freeze.get("cert-manager"), job, accounts)


def test_the_issuers_chart_renders_the_dns01_solver_when_given(
    helm_binary: str, tmp_path: Path
) -> None:
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"dns01": DNS01["aws-eks"][1]}))
    rendered = subprocess.run(
        [helm_binary, "template", "x", str(CHARTS / "cluster-issuers"), "-f", str(values)],
        env=helm_env(tmp_path), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    issuers = [d for d in yaml.safe_load_all(rendered) if d]
    assert len(issuers) == 2
    for issuer in issuers:
        assert issuer["spec"]["acme"]["solvers"] == [{"dns01": DNS01["aws-eks"][1]}]
