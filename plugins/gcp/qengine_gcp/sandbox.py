"""The sandbox: Terraform's state in a local Cloud Storage (fake-gcs-server), and the
blueprint's cloud resources as builtin ``terraform_data`` stand-ins.

The google provider cannot be installed offline, so the sandbox root module keeps the real
one's shape (variables, ``gcs`` backend, outputs with the same names) and replaces each cloud
resource with a ``terraform_data`` whose ``input`` holds what the real one would get: the
network and its ranges, the router and NAT, the cluster, one per node pool, and
external-dns's service account when the job has one (its e-mail is an output the add-on step
puts on external-dns's Kubernetes service account, as on GKE). Terraform plans and applies it
for real, its state and lock in the local bucket. The cluster's endpoint and CA are the
sandbox's Kubernetes API (the simulator), so an environment job of the same session deploys
onto it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from qengine.plugin import SandboxCluster
from qengine.spec import InfrastructureJob
from qengine.terraform import literal
from qengine_gcp import addon_identity, cert_manager_identity, dns_identity
from qengine_gcp.blueprint import (
    BlueprintOptions,
    gke_module,
    labels_of,
    names_of,
    node_pool,
    provider_of,
    variables_of,
)
from qengine_gcp.local_gcs import LocalGcs
from qengine_gcp.settings import GcpSettings
from qengine_gcp.spec import CloudDns

if TYPE_CHECKING:
    from qengine_gcp.sandbox_session import SandboxApis

#: fake-gcs-server takes any bearer token; this one only has to look like one.
SANDBOX_TOKEN = "ya29.qengine-sandbox-not-a-secret"  # noqa: S105 (a placeholder)
SANDBOX_NOTICE = (
    "SANDBOX: nothing is created on Google Cloud. The Terraform state goes to a local "
    "fake-gcs-server, GKE is a local stand-in, and the cluster is a set of terraform_data "
    "stand-ins pointing at the local Kubernetes API."
)
#: The cluster a step's content hash is computed with, in place of the run's own: the
#: sandbox's address and CA change every run, and a finished job must not look changed.
PLACEHOLDER_CLUSTER = SandboxCluster(endpoint="https://127.0.0.1:6443", ca_pem="", token="")


def sandbox_root_module(
    job: InfrastructureJob, cluster: SandboxCluster, options: BlueprintOptions | None = None
) -> dict[str, Any]:
    """The stand-in root module: same variables, backend and outputs as the real one."""
    options = options or BlueprintOptions()
    provider, names = provider_of(job), names_of(job)
    real = gke_module(job, options)
    resources: dict[str, Any] = {
        "network": {
            "input": {
                "name": names["network"],
                "subnet": names["subnet"],
                "nodes": provider.network.nodes,
                "pods": provider.network.pods,
                "services": provider.network.services,
            }
        },
        "cluster": {"input": _cluster_input(job, cluster, real)},
    }
    if provider.private_nodes:
        resources["nat"] = {"input": {"router": names["router"], "nat": names["nat"]}}
    for pool in provider.node_pools:
        resources[f"node_pool_{pool.name.replace('-', '_')}"] = {
            "input": node_pool(pool, provider, options)
        }
    outputs = _outputs()
    zone = dns_identity.external_dns_zone(job)
    if zone is not None:
        account_input = _addon_account(
            job, zone, dns_identity.ADDON, dns_identity.ZONE_ROLE, dns_identity.PROJECT_ROLE
        )
        resources["external_dns_account"] = {"input": account_input}
        account = "terraform_data.external_dns_account.output.email"
        outputs[dns_identity.ACCOUNT_OUTPUT] = {"value": f"${{{account}}}"}
    acme_zone = cert_manager_identity.dns01_zone(job)
    if acme_zone is not None:
        account_input = _addon_account(
            job,
            acme_zone,
            cert_manager_identity.ADDON,
            cert_manager_identity.ZONE_ROLE,
            cert_manager_identity.project_role(acme_zone),
        )
        resources["cert_manager_account"] = {"input": account_input}
        account = "terraform_data.cert_manager_account.output.email"
        outputs[cert_manager_identity.ACCOUNT_OUTPUT] = {"value": f"${{{account}}}"}
    return {
        "terraform": {"backend": {"gcs": {}}},
        "variable": variables_of(job),
        "resource": {"terraform_data": resources},
        "output": outputs,
    }


def _addon_account(
    job: InfrastructureJob, zone: CloudDns, addon: str, zone_role: str, project_role: str | None
) -> dict[str, Any]:
    """What ``addon``'s real account and its bindings get: who may act as it, the zone's role
    and the zone's project's role (None: none)."""
    account = addon_identity.account_id(job, addon)
    return {
        "account_id": account,
        "email": f"{account}@${{var.project_id}}.iam.gserviceaccount.com",
        "workload_identity_member": addon_identity.kubernetes_member(
            "${var.project_id}.svc.id.goog", addon
        ),
        "zone_project": literal(zone.project),
        "zone": literal(zone.managed_zone or zone.zone),
        "zone_role": zone_role,
        "project_role": project_role,
    }


def _cluster_input(
    job: InfrastructureJob, cluster: SandboxCluster, real: dict[str, Any]
) -> dict[str, Any]:
    kept = ("release_channel", "enable_private_nodes", "enable_private_endpoint")
    return {
        "name": "${var.cluster_name}",
        "version": "${var.kubernetes_version}",
        "location": "${var.region}",
        "endpoint": cluster.endpoint,
        "certificate_authority": base64.b64encode(cluster.ca_pem.encode()).decode("ascii"),
        "workload_identity_pool": "${var.project_id}.svc.id.goog",
        "network_name": "${terraform_data.network.output.name}",
        "master_authorized_networks": real["master_authorized_networks"],
        "labels": labels_of(job),
        **{key: real[key] for key in kept},
    }


def _outputs() -> dict[str, Any]:
    cluster = "terraform_data.cluster.output"
    return {
        "cluster_name": {"value": f"${{{cluster}.name}}"},
        "endpoint": {"value": f"${{{cluster}.endpoint}}"},
        "certificate_authority": {"value": f"${{{cluster}.certificate_authority}}"},
        "cluster_version": {"value": f"${{{cluster}.version}}"},
        "location": {"value": f"${{{cluster}.location}}"},
        "workload_identity_pool": {"value": f"${{{cluster}.workload_identity_pool}}"},
        "network_name": {"value": f"${{{cluster}.network_name}}"},
    }


@contextmanager
def sandbox_cluster(readiness_delay: float = 0.5) -> Iterator[SandboxCluster]:
    """Start the Kubernetes API simulator on 127.0.0.1 (a free port); stop it on exit."""
    from qengine.testing.kube import KubeSimulator

    with KubeSimulator(readiness_delay=readiness_delay) as simulator:
        ca = simulator.ca_pem
        yield SandboxCluster(
            endpoint=simulator.url,
            ca_pem=ca.decode("ascii") if isinstance(ca, bytes) else str(ca),
            token=simulator.token,
        )


@contextmanager
def sandbox_gcp(
    cluster: SandboxCluster | None = None, *, apis: SandboxApis | None = None
) -> Iterator[GcpSettings]:
    """Start a local Cloud Storage, the local GKE stand-in (Container and Compute APIs),
    the stand-ins of the Google APIs called with a job's credentials (unless ``apis`` gives
    the session's) and, without ``cluster``, the Kubernetes simulator as the stand-in
    cluster's API, for a sandbox run; stop them on exit. Yields the settings a sandbox run
    gives the plugin. Needs the plugin's ``sandbox`` extra (fake-gcs-server)."""
    from qengine_gcp.sandbox_gke import LocalGke
    from qengine_gcp.sandbox_session import start_apis

    with ExitStack() as stack:
        gcs = stack.enter_context(LocalGcs())
        gke = stack.enter_context(LocalGke())
        if apis is None:
            apis = start_apis(stack, SANDBOX_TOKEN)
        if cluster is None:
            cluster = stack.enter_context(sandbox_cluster())
        settings = GcpSettings(
            storage_endpoint=gcs.url,
            container_endpoint=gke.url,
            sandbox=cluster,
            sandbox_token=SANDBOX_TOKEN,
            poll_interval=0.05,  # the stand-ins finish every operation at once
        )
        yield apis.point(settings)
