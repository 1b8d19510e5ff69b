"""The cluster access of an applied GKE cluster: endpoint, CA, and the job's short-lived
token (through the local STS and IAM Credentials fakes), renewed, never in ``repr``."""

from __future__ import annotations

import base64

import pytest
from gcp_support import access_for, example
from qengine_gcp.cluster_access import cluster_access_of
from qengine_gcp.sandbox_iam import LocalIamCredentials
from qengine_gcp.settings import GcpSettings

from qengine.plugin import InvalidInputError

ACCOUNT = "qengine-deployer@acme-platform-prod.iam.gserviceaccount.com"
SUBJECT = "eyJhbGciOiJSUzI1NiJ9.cluster-access-subject.c2ln"
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _outputs() -> dict[str, str]:
    return {
        "cluster_name": "prod-europe",
        "endpoint": "https://203.0.113.10",
        "certificate_authority": base64.b64encode(CA.encode()).decode(),
        "cluster_version": "1.32.9-gke.1300",
        "location": "europe-west1",
        "workload_identity_pool": "acme-platform-prod.svc.id.goog",
        "network_name": "prod-europe-vpc",
    }


def test_the_token_is_the_jobs_impersonated_one_and_renewed() -> None:
    document = example()
    document["cluster"]["provider"]["workload_identity"] = {
        "audience": "//iam.googleapis.com/projects/1/locations/global/"
        "workloadIdentityPools/ci-pool/providers/github",
        "subject_token": {"secret": "ci_oidc_token"},
    }
    with LocalIamCredentials(subject_token=SUBJECT, account=ACCOUNT) as google:
        settings = GcpSettings(
            sts_endpoint=google.url, iam_credentials_endpoint=google.url, token_seconds=60
        )
        access = access_for(document, settings, {"ci_oidc_token": SUBJECT})
        cluster = cluster_access_of(access, _outputs())
        first, second = cluster.token(), cluster.token()
    assert first.startswith("ya29.impersonated-")
    assert second != first  # 60 s tokens are under the renewal margin: each call renews
    assert cluster.endpoint == "https://203.0.113.10"
    assert cluster.ca_pem == CA
    assert cluster.extra["workload_identity_pool"] == "acme-platform-prod.svc.id.goog"
    assert "network_name" not in cluster.extra
    assert first not in repr(cluster)


def test_outputs_without_an_endpoint_are_refused() -> None:
    access = access_for(example(), GcpSettings(sandbox_token="t"))
    with pytest.raises(InvalidInputError):
        cluster_access_of(access, {"cluster_name": "prod-europe"})
