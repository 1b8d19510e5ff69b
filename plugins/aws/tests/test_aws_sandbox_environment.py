"""An environment job deployed on the sandbox's stand-in EKS cluster, in the same process.

The sandbox (moto and the Kubernetes simulator) lives as long as the exit stack that started
it: the infrastructure job and the environment job run while it is alive. Two ways a host
does it: the Engine with an exit stack of its own and engine settings for the environment job,
or the sandbox started by the host (``sandbox_aws()``, given to the engine as the plugin's
settings) and the applied outputs written as a kubeconfig.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from qengine_aws.sandbox import sandbox_aws
from qengine_aws.settings import AwsSettings
from qengine_kubernetes.settings import KubeSettings

from qengine import Engine, load_plugins
from qengine.runner import Executor, JobRef, JobStatus, MemoryStateStore
from qengine.secrets.hygiene import write_private_file

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
INFRA = json.loads((EXAMPLES / "aws-eks" / "job.json").read_text())
SECRETS = json.loads((EXAMPLES / "aws-eks" / "secrets.json").read_text())

pytestmark = pytest.mark.slow


def _environment_job(target: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "env-on-sandbox-eks-0001",
        "organization": {"id": "org-demo"},
        "actor": {"id": "actor-7f3a9c"},
        "action": "deploy",
        "created_at": INFRA["created_at"],
        "not_after": INFRA["not_after"],
        "target": target,
        "environment": {
            "id": "env-sandbox-eks",
            "name": "shop",
            "services": [
                {
                    "kind": "container",
                    "name": "web",
                    "image": "ghcr.io/example/shop-api",
                    "tag": "1.4.2",
                    "ports": [{"port": 8080}],
                    "replicas": 2,
                }
            ],
        },
    }


def _engine() -> Engine:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws,kubernetes"})
    return Engine(plugins, store=MemoryStateStore())


def _get(endpoint: str, ca_pem: str, token: str, path: str) -> dict[str, Any]:
    request = urllib.request.Request(endpoint + path, headers={"Authorization": f"Bearer {token}"})
    tls = ssl.create_default_context(cadata=ca_pem)
    with urllib.request.urlopen(request, context=tls, timeout=10) as reply:
        found: dict[str, Any] = json.loads(reply.read())
        return found


def _deployments(endpoint: str, ca_pem: str, token: str) -> list[str]:
    path = "/apis/apps/v1/deployments?labelSelector=app.kubernetes.io/instance%3Dshop"
    return [d["metadata"]["name"] for d in _get(endpoint, ca_pem, token, path)["items"]]


def test_engine_runs_the_cluster_then_the_environment_on_it() -> None:
    engine = _engine()
    with ExitStack() as stack:
        accepted = engine.accept(INFRA, sandbox_secrets=SECRETS, sandbox=stack)
        job = accepted.job
        ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id="c")
        result = Executor(store=engine.store).run(
            engine.plan(accepted), ref, redact=accepted.services.secrets.redact
        )
        assert result.status is JobStatus.SUCCEEDED, result.error
        outputs = result.outputs["aws.apply"]
        ca_pem = base64.b64decode(outputs["certificate_authority"]).decode()
        aws = accepted.services.settings["aws"]
        assert isinstance(aws, AwsSettings)
        assert aws.sandbox is not None
        token = aws.sandbox.token  # the simulator's: it checks no EKS token
        assert token not in json.dumps(result.to_json(), default=str)
        kube = KubeSettings(endpoint=outputs["endpoint"], ca_pem=ca_pem, token=token)
        deployed = Engine(
            engine.plugins, store=MemoryStateStore(), settings={"kubernetes": kube}
        ).run(_environment_job({"kind": "kubeconfig"}))
        assert deployed.status is JobStatus.SUCCEEDED, deployed.error
        assert _deployments(outputs["endpoint"], ca_pem, token) == ["web"]
    # The sandbox ended with the stack: nothing answers at the cluster's endpoint any more.
    with pytest.raises(urllib.error.URLError):
        _deployments(outputs["endpoint"], ca_pem, token)


def test_cluster_outputs_written_as_a_kubeconfig_serve_an_environment_job(
    tmp_path: Path,
) -> None:
    document = dict(INFRA, cluster=dict(INFRA["cluster"]))
    document["cluster"]["provider"] = dict(INFRA["cluster"]["provider"], state={})
    with sandbox_aws() as settings:
        assert settings.sandbox is not None
        plugins = _engine().plugins
        engine = Engine(plugins, store=MemoryStateStore(), settings={"aws": settings})
        created = engine.run(document, sandbox_secrets=SECRETS)
        assert created.status is JobStatus.SUCCEEDED, created.error
        outputs = created.outputs["aws.apply"]
        ca_pem = base64.b64decode(outputs["certificate_authority"]).decode()
        token = settings.sandbox.token
        kubeconfig = _kubeconfig(tmp_path, outputs["endpoint"], ca_pem, token)
        assert kubeconfig.stat().st_mode & 0o777 == 0o600
        target = {"kind": "kubeconfig", "path": str(kubeconfig)}
        deployed = _engine().run(_environment_job(target))
        assert deployed.status is JobStatus.SUCCEEDED, deployed.error
        assert _deployments(outputs["endpoint"], ca_pem, token) == ["web"]


def _kubeconfig(directory: Path, endpoint: str, ca_pem: str, token: str) -> Path:
    """A kubeconfig (JSON is YAML) for the cluster; the token is the simulator's."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sandbox-eks",
                "cluster": {
                    "server": endpoint,
                    "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                },
            }
        ],
        "users": [{"name": "sandbox", "user": {"token": token}}],
        "contexts": [
            {"name": "sandbox-eks", "context": {"cluster": "sandbox-eks", "user": "sandbox"}}
        ],
        "current-context": "sandbox-eks",
    }
    private = directory / "kube"
    private.mkdir(mode=0o700)
    return write_private_file(private, "config", json.dumps(config).encode())
