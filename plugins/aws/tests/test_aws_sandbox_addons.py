"""The add-on stack on the sandbox's stand-in EKS cluster: ``create`` installs it from the test
charts with the real helm, the quickstart deployed next in the same session has its router
served through it with its certificate issued, and a second create changes nothing."""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from qengine_aws.settings import AwsSettings

from qengine import Engine, load_plugins
from qengine.plugin import SandboxSession
from qengine.runner import Executor, JobRef, JobStatus, MemoryStateStore

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
INFRA = json.loads((EXAMPLES / "aws-eks" / "job.json").read_text())
SECRETS = json.loads((EXAMPLES / "aws-eks" / "secrets.json").read_text())
QUICKSTART = json.loads((EXAMPLES / "quickstart" / "job.json").read_text())
QUICKSTART_SECRETS = json.loads((EXAMPLES / "quickstart" / "secrets.json").read_text())

pytestmark = pytest.mark.slow


def _get(endpoint: str, ca_pem: str, token: str, path: str) -> dict[str, Any]:
    request = urllib.request.Request(endpoint + path, headers={"Authorization": f"Bearer {token}"})
    tls = ssl.create_default_context(cadata=ca_pem)
    with urllib.request.urlopen(request, context=tls, timeout=10) as reply:
        found: dict[str, Any] = json.loads(reply.read())
        return found


def test_create_installs_the_stack_and_the_quickstart_router_is_served_through_it(
    moto: str,  # moto's backends are shared in a process: the sandbox's starts from empty
) -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws,kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore())
    with ExitStack() as stack:
        session = stack.enter_context(SandboxSession())
        accepted = engine.accept(INFRA, sandbox_secrets=SECRETS, sandbox=session)
        job = accepted.job
        ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id="c")
        plan = engine.plan(accepted)
        ids = [step.id for step in plan.steps]
        assert ids.index("aws.apply") < ids.index("addons.crds") < ids.index("addons.traefik")
        result = Executor(store=engine.store).run(
            plan, ref, redact=accepted.services.secrets.redact
        )
        assert result.status is JobStatus.SUCCEEDED, result.error
        assert any(c.kind == "HelmRelease" for c in result.changes)
        outputs = result.outputs["aws.apply"]
        ca_pem = base64.b64decode(outputs["certificate_authority"]).decode()
        aws = accepted.services.settings["aws"]
        assert isinstance(aws, AwsSettings)
        assert aws.sandbox is not None
        token = aws.sandbox.token
        # The cluster's token reached helm in a 0600 kubeconfig only: never the job's record.
        assert token not in json.dumps(result.to_json(), default=str)

        def get(path: str) -> dict[str, Any]:
            return _get(outputs["endpoint"], ca_pem, token, path)

        releases = get("/api/v1/namespaces/qengine-system/secrets?labelSelector=owner%3Dhelm")
        names = {s["metadata"]["labels"]["name"] for s in releases["items"]}
        # The example turns logs and metrics on; cert-manager, ingress and metrics-server are
        # on by default, external-dns because the job has a dns section, cluster-autoscaler
        # because its node groups may grow (min below max) on EKS.
        assert names == {
            "cert-manager", "cluster-issuers", "traefik", "metrics-server", "external-dns",
            "cluster-autoscaler", "loki", "alloy", "kube-prometheus-stack",
        }  # fmt: skip
        issuers = get("/apis/cert-manager.io/v1/clusterissuers")["items"]
        assert {i["metadata"]["name"] for i in issuers} == {"letsencrypt", "letsencrypt-staging"}
        # external-dns runs as the IAM role the apply made for it (IRSA): its service account
        # carries the role's ARN from the apply's outputs, and its pods run as that account.
        role = outputs["external_dns_role_arn"]
        assert role == "arn:aws:iam::123456789012:role/prod-eu-external-dns"
        account = get("/api/v1/namespaces/qengine-system/serviceaccounts/external-dns")
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role
        dns = get("/apis/apps/v1/namespaces/qengine-system/deployments/external-dns")
        assert dns["spec"]["template"]["spec"]["serviceAccountName"] == "external-dns"
        # cluster-autoscaler likewise, with its own role, discovering the groups of the
        # cluster's name in its region, at the image made for the cluster's minor version.
        role = outputs["cluster_autoscaler_role_arn"]
        assert role == "arn:aws:iam::123456789012:role/prod-eu-cluster-autoscaler"
        account = get("/api/v1/namespaces/qengine-system/serviceaccounts/cluster-autoscaler")
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role
        scaler = get("/apis/apps/v1/namespaces/qengine-system/deployments/cluster-autoscaler")
        pod = scaler["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "cluster-autoscaler"
        [container] = pod["containers"]
        assert container["image"].endswith(":v1.32.1")  # the example's Kubernetes 1.32
        assert (
            "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
            "k8s.io/cluster-autoscaler/prod-eu"
        ) in container["command"]
        assert container["env"] == [{"name": "AWS_REGION", "value": "eu-west-3"}]

        deployed = engine.run(QUICKSTART, sandbox_secrets=QUICKSTART_SECRETS, sandbox=session)
        assert deployed.status is JobStatus.SUCCEEDED, deployed.error
        ingresses = get("/apis/networking.k8s.io/v1/ingresses")["items"]
        public = next(i for i in ingresses if i["metadata"]["name"] == "public")
        # Served by the stack: the class its controller watches, the issuer it installed.
        assert public["spec"]["ingressClassName"] == "nginx"
        issuer = public["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        assert issuer in {i["metadata"]["name"] for i in issuers}
        assert public["status"]["loadBalancer"]["ingress"]
        # Its certificate, from the stack's issuer (the simulator issues it, self-signed).
        namespace = public["metadata"]["namespace"]
        secret_name = public["spec"]["tls"][0]["secretName"]
        deadline = time.monotonic() + 10
        while True:
            cert = get(
                f"/apis/cert-manager.io/v1/namespaces/{namespace}/certificates/{secret_name}"
            )
            conditions = cert.get("status", {}).get("conditions", [])
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                break
            assert time.monotonic() < deadline, conditions
            time.sleep(0.1)
        assert cert["spec"]["issuerRef"]["name"] == issuer
        assert cert["spec"]["dnsNames"] == ["shop.example.com"]
        tls = get(f"/api/v1/namespaces/{namespace}/secrets/{secret_name}")
        assert tls["type"] == "kubernetes.io/tls"

        again = Executor(store=MemoryStateStore()).run(
            engine.plan(engine.accept(dict(INFRA, id="eks-prod-create-0002"),
                                      sandbox_secrets=SECRETS, sandbox=session)),
            JobRef(job_id="eks-prod-create-0002", organization_id="org-demo", target_id="c"),
        )  # fmt: skip
        assert again.status is JobStatus.SUCCEEDED, again.error
        changed = [c for c in again.changes if c.kind == "HelmRelease"]
        assert changed == []


def test_a_host_without_helm_fails_the_create_before_anything_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The add-on stack needs helm: a host without it is told at the preflight, before the
    state bucket or the cluster exist, not at the first add-on step with a cluster to undo."""
    monkeypatch.setenv("QENGINE_HELM", str(tmp_path / "no-helm-here"))
    engine = Engine(
        load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"}), store=MemoryStateStore()
    )
    result = engine.run(dict(INFRA), sandbox_secrets=SECRETS, sandbox=True)
    assert result.status is JobStatus.FAILED
    assert result.error is not None
    assert "needs helm 3" in result.error.message
    assert "QENGINE_HELM" in (result.error.hint or "")
    ran = {o.step_id: o.status.value for o in result.steps if o.status.value != "cancelled"}
    assert ran == {"aws.preflight": "failed"}
    assert result.changes == ()

    # A job that leaves the add-ons alone needs no helm.
    alone = json.loads(json.dumps(INFRA))
    alone["cluster"]["addons"] = {"manage": False}
    alone["id"] = "eks-no-addons"
    assert engine.run(alone, sandbox_secrets=SECRETS, sandbox=True).status is JobStatus.SUCCEEDED


def test_dns01_issuers_use_the_role_the_apply_made_for_cert_manager(moto: str) -> None:
    """With acme_challenge dns01, the apply makes cert-manager's role (a stand-in here), its
    ARN reaches cert-manager's service account, and the issuers solve in the job's Route53
    zone with no credential."""
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws,kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore())
    document = json.loads(json.dumps(INFRA))
    document["id"] = "eks-prod-create-dns01"
    document["cluster"]["addons"] = {"acme_challenge": "dns01", "ingress": False,
                                     "metrics_server": False}  # fmt: skip
    with SandboxSession() as session:
        result = engine.run(document, sandbox_secrets=SECRETS, sandbox=session)
        assert result.status is JobStatus.SUCCEEDED, result.error
        outputs = result.outputs["aws.apply"]
        ca_pem = base64.b64decode(outputs["certificate_authority"]).decode()
        aws = engine.accept(document, sandbox_secrets=SECRETS, sandbox=session).services
        settings = aws.settings["aws"]
        assert isinstance(settings, AwsSettings)
        assert settings.sandbox is not None
        token = settings.sandbox.token

        def get(path: str) -> dict[str, Any]:
            return _get(outputs["endpoint"], ca_pem, token, path)

        role = outputs["cert_manager_role_arn"]
        assert role == "arn:aws:iam::123456789012:role/prod-eu-cert-manager"
        account = get("/api/v1/namespaces/qengine-system/serviceaccounts/cert-manager")
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role
        controller = get("/apis/apps/v1/namespaces/qengine-system/deployments/cert-manager")
        assert controller["spec"]["template"]["spec"]["serviceAccountName"] == "cert-manager"
        issuers = get("/apis/cert-manager.io/v1/clusterissuers")["items"]
        assert len(issuers) == 2
        for issuer in issuers:
            assert issuer["spec"]["acme"]["solvers"] == [
                {"dns01": {"route53": {"region": "eu-west-3"}}}
            ]
        releases = get("/api/v1/namespaces/qengine-system/secrets?labelSelector=owner%3Dhelm")
        assert "traefik" not in {s["metadata"]["labels"]["name"] for s in releases["items"]}
