"""external-dns's workload identity in the sandbox: an AKS create whose job runs external-dns on
Azure DNS applies the stand-in managed identity, and the add-on step puts its client id, from
the apply's outputs, on external-dns's Kubernetes service account on the simulator."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from azure_support import EXAMPLE_SECRETS, example
from qengine_azure.settings import AzureSettings

from qengine import Engine, load_plugins
from qengine.plugin import SandboxSession
from qengine.runner import Executor, JobRef, JobStatus, MemoryStateStore

pytestmark = pytest.mark.slow

#: The job's Azure DNS zone, through workload identity.
DNS: dict[str, Any] = {
    "kind": "azure-dns",
    "subscription_id": "00000000-0000-0000-0000-0000000000d5",
    "tenant_id": "00000000-0000-0000-0000-00000000000e",
    "client_id": "00000000-0000-0000-0000-0000000000c1",
    "workload_identity": True,
    "resource_group": "dns-rg",
    "zone": "prod.example.com",
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
    secrets = json.loads(EXAMPLE_SECRETS.read_text())
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure,kubernetes"})
    engine = Engine(plugins, store=MemoryStateStore())
    with SandboxSession() as session:
        accepted = engine.accept(document, sandbox_secrets=secrets, sandbox=session)
        job = accepted.job
        ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id="c")
        result = Executor(store=engine.store).run(
            engine.plan(accepted), ref, redact=accepted.services.secrets.redact
        )
        assert result.status is JobStatus.SUCCEEDED, result.error
        outputs = result.outputs["azure.apply"]
        settings = accepted.services.settings["azure"]
        assert isinstance(settings, AzureSettings)
        assert settings.sandbox is not None
        ca_pem = base64.b64decode(outputs["certificate_authority"]).decode()
        token = settings.sandbox.token

        def get(path: str) -> dict[str, Any]:
            return _get(outputs["endpoint"], ca_pem, token, path)

        yield outputs, get


def test_external_dns_signs_in_as_the_identity_the_apply_made(
    azurite_binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QENGINE_AZURITE", str(azurite_binary))
    document = example()
    document["dns"] = dict(DNS)
    # external-dns only (on by default with a dns section): the others are tested elsewhere.
    document["cluster"]["addons"] = {"cert_manager": False, "ingress": False,
                                     "metrics_server": False}  # fmt: skip
    with _applied(document) as (outputs, get):
        client_id = outputs["external_dns_client_id"]
        account = get("/api/v1/namespaces/qengine-system/serviceaccounts/external-dns")
        annotations = account["metadata"]["annotations"]
        assert annotations["azure.workload.identity/client-id"] == client_id


def test_dns01_issuers_sign_in_as_the_identity_the_apply_made_for_cert_manager(
    azurite_binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With acme_challenge dns01, the apply makes cert-manager's identity (a stand-in here);
    its client id reaches cert-manager's service account and the issuers' Azure DNS solver,
    whose zone, group and subscription are the job's, and the controller's pods carry the
    workload identity label; no secret anywhere."""
    monkeypatch.setenv("QENGINE_AZURITE", str(azurite_binary))
    document = example()
    document["dns"] = dict(DNS)
    document["cluster"]["addons"] = {"acme_challenge": "dns01", "ingress": False,
                                     "external_dns": False, "metrics_server": False}  # fmt: skip
    with _applied(document) as (outputs, get):
        client_id = outputs["cert_manager_client_id"]
        account = get("/api/v1/namespaces/qengine-system/serviceaccounts/cert-manager")
        assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == client_id
        controller = get("/apis/apps/v1/namespaces/qengine-system/deployments/cert-manager")
        pod = controller["spec"]["template"]
        assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
        assert pod["spec"]["serviceAccountName"] == "cert-manager"
        issuers = get("/apis/cert-manager.io/v1/clusterissuers")["items"]
        assert len(issuers) == 2
        for issuer in issuers:
            assert issuer["spec"]["acme"]["solvers"] == [
                {
                    "dns01": {
                        "azureDNS": {
                            "subscriptionID": "00000000-0000-0000-0000-0000000000d5",
                            "resourceGroupName": "dns-rg",
                            "hostedZoneName": "prod.example.com",
                            "environment": "AzurePublicCloud",
                            "managedIdentity": {"clientID": client_id},
                        }
                    }
                }
            ]
