"""Leak hunt: a GCP job run with real short-lived credentials (workload identity federation,
then impersonation, against the local STS and IAM Credentials fakes) leaves no token and no
subject token in anything it writes: the result and its outputs, the events, the Terraform
state object, nor terraform's environment and command lines (recorded by a wrapper put first
on PATH). Raw, base64 and URL-encoded forms are all looked for."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from gcp_support import RecordingRelay, example
from qengine_gcp.local_gcs import LocalGcs
from qengine_gcp.sandbox import sandbox_cluster
from qengine_gcp.sandbox_iam import LocalIamCredentials
from qengine_gcp.settings import GcpSettings
from qengine_gcp.state_backend import storage_client

from qengine import Engine, load_plugins
from qengine.runner import JobStatus, MemoryStateStore

pytestmark = pytest.mark.slow

ACCOUNT = "qengine-deployer@acme-platform-prod.iam.gserviceaccount.com"
SUBJECT = "eyJhbGciOiJSUzI1NiJ9.leak-hunt-subject-token.c2lnbmF0dXJl"


def _forms(secret: str) -> list[str]:
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        urllib.parse.quote(secret, safe=""),
        json.dumps(secret)[1:-1],
    ]


def _wrapper(directory: Path, log: Path) -> Path:
    real = shutil.which("terraform")
    assert real is not None
    script = directory / "terraform"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps({'argv': sys.argv, 'env': dict(os.environ)}) + '\\n')\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return directory


def test_no_token_leaks_anywhere(
    tmp_path: Path, local_gcs: LocalGcs, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "terraform-calls.jsonl"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{_wrapper(bin_dir, log)}{os.pathsep}{os.environ['PATH']}")
    document = example()
    provider = document["cluster"]["provider"]
    provider["state"]["bucket"] = "leak-hunt-state"
    provider["workload_identity"] = {
        "audience": "//iam.googleapis.com/projects/123456/locations/global/"
        "workloadIdentityPools/ci-pool/providers/github",
        "subject_token": {"secret": "ci_oidc_token"},
    }
    events: list[Any] = []
    with (
        LocalIamCredentials(subject_token=SUBJECT, account=ACCOUNT) as google,
        RecordingRelay(local_gcs.url, authorize=google.valid) as storage,
        sandbox_cluster() as cluster,
    ):
        settings = GcpSettings(
            storage_endpoint=storage.url,
            sts_endpoint=google.url,
            iam_credentials_endpoint=google.url,
            token_seconds=600,
            sandbox=cluster,  # the stand-in module: no google provider can be installed here
        )
        plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"})
        engine = Engine(plugins, store=MemoryStateStore(), settings={"gcp": settings})
        result = engine.run(
            document, sandbox_secrets={"ci_oidc_token": SUBJECT}, on_event=events.append
        )
        assert result.status is JobStatus.SUCCEEDED, result.error
        assert storage.refused == 0
        bucket = storage_client_for(storage.url, next(iter(google.issued)))
        state = bucket.blob("qengine/cluster-prod-europe/default.tfstate").download_as_text()
        issued = list(google.issued)
    assert len(issued) >= 2  # a federated token, then impersonated ones
    calls = log.read_text()
    assert calls.count('"argv"') >= 4  # init, plan, show, apply, output...
    written = {
        "result": json.dumps(result.to_json(), default=str),
        "events": "\n".join(repr(event) for event in events),
        "state": state,
        "terraform argv and environment": calls,
    }
    for secret in [SUBJECT, *issued]:
        for form in _forms(secret):
            for where, text in written.items():
                assert form not in text, f"a token leaked into the {where}"
    assert '"GCE_METADATA_HOST"' in calls  # what terraform got instead of a token


def storage_client_for(endpoint: str, token: str) -> Any:
    """A bucket handle on the relay with a token the fakes issued (to read the state)."""
    from qengine_gcp.credentials import GcpAccess
    from qengine_gcp.spec import GcpProvider, NodePool

    from qengine.plugin import SecretValue
    from qengine.spec import DnsLabel

    provider = GcpProvider(
        kind="gcp",
        project="acme-platform-prod",
        region="europe-west1",
        service_account=ACCOUNT,
        node_pools=(NodePool(name=DnsLabel("general"), machine_type="e2-standard-4"),),
    )
    settings = GcpSettings(storage_endpoint=endpoint, sandbox_token=token)
    access = GcpAccess(identity=provider, open_secret=SecretValue, settings=settings)
    return storage_client(access).bucket("leak-hunt-state")
