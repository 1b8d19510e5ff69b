"""external-dns's workload identity in the sandbox: a GKE create whose job runs external-dns on
Cloud DNS applies the stand-in Google service account, and the add-on step puts its e-mail,
from the apply's outputs, on external-dns's Kubernetes service account on the simulator; the
Deployment's arguments name the zone's project, which is not the cluster's."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from gcp_support import example
from qengine_gcp.settings import GcpSettings

from qengine import Engine, load_plugins
from qengine.plugin import SandboxSession
from qengine.runner import Executor, JobRef, JobStatus, MemoryStateStore

pytestmark = pytest.mark.slow

#: The job's Cloud DNS zone, in a project that is not the cluster's.
DNS: dict[str, Any] = {
    "kind": "cloud-dns",
    "project": "acme-dns",
    "zone": "prod.example.com",
    "service_account": "qengine-dns@acme-dns.iam.gserviceaccount.com",
}


def _get(endpoint: str, ca_pem: str, token: str, path: str) -> dict[str, Any]:
    request = urllib.request.Request(endpoint + path, headers={"Authorization": f"Bearer {token}"})
    tls = ssl.create_default_context(cadata=ca_pem)
    with urllib.request.urlopen(request, context=tls, timeout=10) as reply:
        found: dict[str, Any] = json.loads(reply.read())
        return found


Get = Callable[[str], dict[str, Any]]


@contextmanager
def _applied(document: dict[str, Any]) -> Iterator[tuple[Mapping[str, str], Get]]:
    """Run the create ``document`` in a sandbox session; while the session lasts, give the
    apply's outputs and a reader of the cluster's (the simulator's) API paths."""
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore())
    with ExitStack() as stack:
        session = stack.enter_context(SandboxSession())
        accepted = engine.accept(document, sandbox=session)
        job = accepted.job
        ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id="c")
        result = Executor(store=engine.store).run(engine.plan(accepted), ref)
        assert result.status is JobStatus.SUCCEEDED, result.error
        outputs = result.outputs["gcp.apply"]
        settings = accepted.services.settings["gcp"]
        assert isinstance(settings, GcpSettings)
        assert settings.sandbox is not None
        ca_pem = base64.b64decode(outputs["certificate_authority"]).decode()
        token = settings.sandbox.token

        def get(path: str) -> dict[str, Any]:
            return _get(outputs["endpoint"], ca_pem, token, path)

        yield outputs, get


def test_external_dns_runs_as_the_service_account_the_apply_made() -> None:
    document = example()
    document["dns"] = dict(DNS)
    # external-dns only (on by default with a dns section): the others are tested elsewhere.
    document["cluster"]["addons"] = {"cert_manager": False, "ingress": False,
                                     "metrics_server": False}  # fmt: skip
    with _applied(document) as (outputs, get):
        email = outputs["external_dns_service_account"]
        assert email.startswith("external-dns-")
        assert email.endswith("@acme-platform-prod.iam.gserviceaccount.com")
        account = get("/api/v1/namespaces/qengine-system/serviceaccounts/external-dns")
        annotations = account["metadata"]["annotations"]
        assert annotations["iam.gke.io/gcp-service-account"] == email
        # The zone is in acme-dns, the cluster in acme-platform-prod: without --google-project
        # external-dns would look in the project its pod runs in and find no zone.
        deployment = get("/apis/apps/v1/namespaces/qengine-system/deployments/external-dns")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        args = container["args"]
        assert args[-5:] == [
            "--txt-owner-id=" + document["cluster"]["id"],
            "--domain-filter=prod.example.com",
            "--provider=google",
            "--google-project=acme-dns",
            "--google-zone-visibility=public",
        ]


def test_dns01_issuers_use_the_service_account_the_apply_made_for_cert_manager() -> None:
    """With acme_challenge dns01, the apply makes cert-manager's account (a stand-in here),
    whose e-mail reaches cert-manager's service account; the issuers solve in the job's
    managed zone with no key."""
    document = example()
    document["dns"] = {**DNS, "managed_zone": "prod-zone"}
    document["cluster"]["addons"] = {"acme_challenge": "dns01", "ingress": False,
                                     "external_dns": False, "metrics_server": False}  # fmt: skip
    with _applied(document) as (outputs, get):
        email = outputs["cert_manager_service_account"]
        assert email.startswith("cert-manager-")
        assert email.endswith("@acme-platform-prod.iam.gserviceaccount.com")
        account = get("/api/v1/namespaces/qengine-system/serviceaccounts/cert-manager")
        assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == email
        issuers = get("/apis/cert-manager.io/v1/clusterissuers")["items"]
        assert len(issuers) == 2
        for issuer in issuers:
            assert issuer["spec"]["acme"]["solvers"] == [
                {"dns01": {"cloudDNS": {"project": "acme-dns", "hostedZoneName": "prod-zone"}}}
            ]
