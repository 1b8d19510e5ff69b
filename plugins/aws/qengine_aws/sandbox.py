"""The sandbox: every AWS call goes to an in-process moto server, and the blueprint's cloud
resources are builtin ``terraform_data`` stand-ins.

The AWS Terraform provider cannot be installed offline, so the sandbox root module keeps the
real one's shape (variables, S3 backend, outputs with the same names) and replaces each cloud
resource with a ``terraform_data`` whose ``input`` holds what the real resource would get:
the VPC and its subnets, the secrets key, the cluster, one per node group (with
cluster-autoscaler's auto-discovery tags when the job runs it), and external-dns's and
cluster-autoscaler's IAM roles when the job has them (their ARNs are outputs the add-on steps
put on the add-ons' service accounts, as on EKS). Terraform plans and applies it for real,
with its state in the S3 backend on moto. The cluster's endpoint and CA are the sandbox's
Kubernetes API (the simulator), so an environment job run in the same process, while the
sandbox is alive, can target it.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from qengine.plugin import PluginError, SandboxCluster
from qengine.spec import InfrastructureJob
from qengine.terraform.json_types import literal
from qengine_aws import autoscaler_identity, cert_manager_identity, dns_identity
from qengine_aws.blueprint import (
    BlueprintOptions,
    node_group,
    provider_of,
    tags_of,
)
from qengine_aws.network import plan_subnets
from qengine_aws.settings import AwsSettings
from qengine_aws.spec import Route53Dns

#: moto accepts any key; these only have to look like one.
SANDBOX_CREDENTIALS = ("AKIAQENGINESANDBOX01", "qengine-sandbox-not-a-secret")
#: The account moto answers for keys that assume no role.
MOTO_ACCOUNT = "123456789012"
SANDBOX_NOTICE = (
    "SANDBOX: nothing is created on AWS. AWS calls go to an in-process moto server and the "
    "cluster is a set of terraform_data stand-ins pointing at the local Kubernetes API."
)
#: The cluster a step's content hash is computed with, in place of the run's own: the
#: sandbox's address and CA change every run, and a finished job must not look changed.
PLACEHOLDER_CLUSTER = SandboxCluster(endpoint="https://127.0.0.1:6443", ca_pem="", token="")


def sandbox_root_module(
    job: InfrastructureJob, cluster: SandboxCluster, options: BlueprintOptions | None = None
) -> dict[str, Any]:
    """The stand-in root module: same variables, backend and outputs as the real one."""
    options = options or BlueprintOptions()
    provider = provider_of(job)
    plan = plan_subnets(provider.vpc_cidr, provider.availability_zones)
    resources: dict[str, Any] = {
        "vpc": {
            "input": {
                "cidr": provider.vpc_cidr,
                "private_subnets": list(plan.private),
                "public_subnets": list(plan.public),
                "tags": tags_of(job),
            }
        },
        "cluster": {"input": _cluster_input(job, cluster)},
    }
    if provider.secrets_encryption:
        resources["secrets_key"] = {"input": {"enable_key_rotation": True}}
    tags = autoscaler_identity.discovery_tags(job)
    for group in provider.node_groups:
        resources[f"node_group_{group.name.replace('-', '_')}"] = {
            "input": node_group(group, options, tags=tags)
        }
    outputs = _outputs()
    zone = dns_identity.external_dns_zone(job)
    if zone is not None:
        resources["external_dns_role"] = {"input": _external_dns_role(job, zone)}
        role = "terraform_data.external_dns_role.output.arn"
        outputs[dns_identity.ROLE_OUTPUT] = {"value": f"${{{role}}}"}
    acme_zone = cert_manager_identity.dns01_zone(job)
    if acme_zone is not None:
        resources["cert_manager_role"] = {"input": _cert_manager_role(job, acme_zone)}
        role = "terraform_data.cert_manager_role.output.arn"
        outputs[cert_manager_identity.ROLE_OUTPUT] = {"value": f"${{{role}}}"}
    if autoscaler_identity.autoscaled(job):
        resources["cluster_autoscaler_role"] = {
            "input": _cluster_autoscaler_role(job, paused=options.paused)
        }
        role = "terraform_data.cluster_autoscaler_role.output.arn"
        outputs[autoscaler_identity.ROLE_OUTPUT] = {"value": f"${{{role}}}"}
    return {
        "terraform": {"backend": {"s3": {}}},
        "variable": {
            "region": {"type": "string", "default": provider.region},
            "cluster_name": {"type": "string", "default": job.cluster.name},
            "kubernetes_version": {"type": "string", "default": job.cluster.kubernetes_version},
        },
        "resource": {"terraform_data": resources},
        "output": outputs,
    }


def _account(job: InfrastructureJob) -> str:
    """The account the sandbox's moto answers for: the job's role's, or moto's default one."""
    role_arn = provider_of(job).role_arn
    return role_arn.split(":")[4] if role_arn else MOTO_ACCOUNT


def _cluster_autoscaler_role(job: InfrastructureJob, *, paused: bool) -> dict[str, Any]:
    """What the real role gets: its trust, and its actions (no resizing while paused)."""
    scale = [] if paused else list(autoscaler_identity.SCALE_ACTIONS)
    return {
        "name": autoscaler_identity.ROLE_NAME,
        "trusted_subject": autoscaler_identity.subject(),
        "trusted_audience": "sts.amazonaws.com",
        "read_actions": list(autoscaler_identity.READ_ACTIONS),
        "scale_actions": scale,
        "scale_condition": f"aws:ResourceTag/{autoscaler_identity.cluster_tag(job)}=owned",
        "arn": f"arn:aws:iam::{_account(job)}:role/{autoscaler_identity.ROLE_NAME}",
    }


def _external_dns_role(job: InfrastructureJob, zone: Route53Dns) -> dict[str, Any]:
    """What the real role gets: its trust (one subject, one audience) and its zone's actions.
    Its ARN is in the account the sandbox's moto answers for."""
    account = _account(job)
    return {
        "name": dns_identity.ROLE_NAME,
        "trusted_subject": dns_identity.subject(),
        "trusted_audience": "sts.amazonaws.com",
        "zone": literal(zone.zone),
        "zone_id": literal(zone.zone_id) if zone.zone_id else "(looked up by name)",
        "zone_actions": list(dns_identity.ZONE_ACTIONS),
        "list_actions": list(dns_identity.LIST_ACTIONS),
        "arn": f"arn:aws:iam::{account}:role/{dns_identity.ROLE_NAME}",
    }


def _cert_manager_role(job: InfrastructureJob, zone: Route53Dns) -> dict[str, Any]:
    """What the real role gets: its trust (one subject, one audience) and its actions."""
    return {
        "name": cert_manager_identity.ROLE_NAME,
        "trusted_subject": cert_manager_identity.subject(),
        "trusted_audience": "sts.amazonaws.com",
        "zone": literal(zone.zone),
        "zone_id": literal(zone.zone_id) if zone.zone_id else "(looked up by name)",
        "zone_actions": list(cert_manager_identity.ZONE_ACTIONS),
        "change_actions": list(cert_manager_identity.CHANGE_ACTIONS),
        "list_actions": list(cert_manager_identity.LIST_ACTIONS),
        "arn": f"arn:aws:iam::{_account(job)}:role/{cert_manager_identity.ROLE_NAME}",
    }


def _cluster_input(job: InfrastructureJob, cluster: SandboxCluster) -> dict[str, Any]:
    return {
        "name": "${var.cluster_name}",
        "version": "${var.kubernetes_version}",
        "endpoint": cluster.endpoint,
        "certificate_authority": base64.b64encode(cluster.ca_pem.encode()).decode("ascii"),
        # The simulator's address, as EKS's issuer is AWS's; no discovery document answers there.
        "oidc_issuer_url": f"{cluster.endpoint}/id/{job.cluster.id}",
        "vpc_id": "vpc-sandbox-${terraform_data.vpc.id}",
    }


def _outputs() -> dict[str, Any]:
    cluster = "terraform_data.cluster.output"
    return {
        "cluster_name": {"value": f"${{{cluster}.name}}"},
        "endpoint": {"value": f"${{{cluster}.endpoint}}"},
        "certificate_authority": {"value": f"${{{cluster}.certificate_authority}}"},
        "oidc_issuer_url": {"value": f"${{{cluster}.oidc_issuer_url}}"},
        "cluster_version": {"value": f"${{{cluster}.version}}"},
        "vpc_id": {"value": f"${{{cluster}.vpc_id}}"},
    }


@contextmanager
def sandbox_cluster(readiness_delay: float = 0.5) -> Iterator[SandboxCluster]:
    """Start the Kubernetes API simulator on 127.0.0.1 (a free port); stop it on exit.

    Yields the stand-in cluster's endpoint, CA and the simulator's bearer token.
    """
    from qengine.testing.kube import KubeSimulator

    with KubeSimulator(readiness_delay=readiness_delay) as simulator:
        ca = simulator.ca_pem
        yield SandboxCluster(
            endpoint=simulator.url,
            ca_pem=ca.decode("ascii") if isinstance(ca, bytes) else str(ca),
            token=simulator.token,
        )


# moto keeps its accounts in process-wide backends that every moto server of the process
# serves: without a reset, a sandbox run would find what an earlier run of the same process
# (an embedding host, a test suite) left in its "AWS" and plan nothing to create.
_live_lock = threading.Lock()
_live = 0


@contextmanager
def _fresh_aws(port: int) -> Iterator[None]:
    """An empty AWS for the first live sandbox of the process, emptied again by the last.

    Two sandboxes live at once in one process share moto's accounts (they are moto's, not the
    server's): the second starts from what the first has made. A reset goes through moto's own
    API (``POST /moto-api/reset``) on the server just started.
    """
    global _live
    with _live_lock:
        if _live == 0:
            _reset(port)
        _live += 1
    try:
        yield
    finally:
        with _live_lock:
            _live -= 1
            if _live == 0:
                _reset(port)


def _reset(port: int) -> None:
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (http, 127.0.0.1)
        answer.read()


@contextmanager
def sandbox_aws(cluster: SandboxCluster | None = None) -> Iterator[AwsSettings]:
    """Start moto on 127.0.0.1 (a free port) for a sandbox run; stop it on exit.

    Without ``cluster``, the Kubernetes simulator is started too (and stopped on exit) as the
    stand-in cluster's API. Needs ``moto[server]`` (the plugin's ``sandbox`` extra): without it,
    a :class:`PluginError` says how to install it. Yields the
    settings a sandbox run passes to the plugin; ``settings.sandbox.token`` is the simulator's
    bearer token.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise PluginError(
            "the AWS sandbox needs moto, which is not installed",
            hint="Install the plugin's sandbox extra: python3 -m pip install 'qengine-aws[sandbox]'"
            " (from a checkout: python3 -m pip install -e 'plugins/aws[sandbox]').",
        ) from None

    from qengine.testing.tcp_relay import TcpRelay

    with ExitStack() as stack:
        if cluster is None:
            cluster = stack.enter_context(sandbox_cluster())
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        stack.callback(server.stop)
        _, port = server.get_host_and_port()
        stack.enter_context(_fresh_aws(port))
        # Terraform's SDK retries a DynamoDB call after a transport error even when moto had
        # applied it, and so fails against its own lock; the relay keeps those calls whole.
        relay = stack.enter_context(TcpRelay(port))
        yield AwsSettings(
            endpoint_url=relay.url,
            sandbox=cluster,
            sandbox_credentials=SANDBOX_CREDENTIALS,
            poll_interval=0.2,  # moto applies a change at once: no need to wait as on AWS
        )
