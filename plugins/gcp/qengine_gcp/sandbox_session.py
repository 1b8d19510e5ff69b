"""The GCP stand-ins of a sandbox session, shared by the session's jobs.

The first GCP job of a session starts the stand-ins of the Google APIs its jobs call with
credentials (:class:`SandboxApis`: STS and IAM Credentials, Cloud DNS, Artifact Registry) and,
for an infrastructure job, the local Cloud Storage, the GKE stand-in and, unless an earlier job
of the session started a cluster (``session.cluster()``), the simulator that is the stand-in
cluster's API. They are published in the session: the settings under :data:`GCP_SETTINGS`,
the API stand-ins under :data:`GCP_APIS`, the stand-in cluster under
:data:`~qengine.plugin.SANDBOX_CLUSTER`. The next jobs (a delete of the same cluster, an
environment job on it) find the bucket, the Terraform state, the cluster, the zones and
repositories the first ones made.
"""

from __future__ import annotations

from contextlib import ExitStack

import attrs

from qengine.plugin import SANDBOX_CLUSTER, SandboxSession, SessionKey
from qengine.spec import InfrastructureJob, Job
from qengine_gcp.sandbox_artifact_registry import LocalArtifactRegistry
from qengine_gcp.sandbox_dns import LocalCloudDns
from qengine_gcp.sandbox_iam import LocalIamCredentials
from qengine_gcp.settings import GcpSettings
from qengine_gcp.spec import ArtifactRegistry, CloudDns


@attrs.frozen(kw_only=True)
class SandboxApis:
    """The session's stand-ins of the Google APIs called with a job's credentials."""

    iam: LocalIamCredentials
    dns: LocalCloudDns
    artifact_registry: LocalArtifactRegistry

    def point(self, settings: GcpSettings) -> GcpSettings:
        """``settings`` with the plugin's clients pointed at these stand-ins."""
        return attrs.evolve(
            settings,
            sts_endpoint=self.iam.url,
            iam_credentials_endpoint=self.iam.url,
            dns_endpoint=self.dns.url,
            artifact_registry_endpoint=self.artifact_registry.url,
        )


#: The session's GCP sandbox settings (the local Cloud Storage, the stand-in cluster).
GCP_SETTINGS: SessionKey[GcpSettings] = SessionKey("gcp.settings", GcpSettings)
#: The session's stand-ins of the Google APIs (IAM Credentials, Cloud DNS, Artifact Registry).
GCP_APIS: SessionKey[SandboxApis] = SessionKey("gcp.apis", SandboxApis)
#: The ``host:port`` of the session's Artifact Registry Docker endpoint, once started.
GCP_DOCKER_HOST: SessionKey[str] = SessionKey("gcp.docker-host", str)


def start_apis(stack: ExitStack, sandbox_token: str) -> SandboxApis:
    """Start the API stand-ins on ``stack``. IAM Credentials takes ``sandbox_token`` as the
    host's own credential (any service account may be impersonated with it); the others
    accept it and any current token IAM Credentials issued."""
    iam = stack.enter_context(LocalIamCredentials(source_tokens=[sandbox_token]))
    return SandboxApis(
        iam=iam,
        dns=stack.enter_context(LocalCloudDns("", {}, token=sandbox_token, issuer=iam)),
        artifact_registry=stack.enter_context(
            LocalArtifactRegistry(token=sandbox_token, issuer=iam)
        ),
    )


def session_apis(session: SandboxSession) -> SandboxApis:
    """The session's API stand-ins, started the first time."""
    found = session.get(GCP_APIS)
    if found is None:
        from qengine_gcp.sandbox import SANDBOX_TOKEN

        found = start_apis(session.stack, SANDBOX_TOKEN)
        session.put(GCP_APIS, found)
    return found


def serve_zones_of(job: Job, apis: SandboxApis) -> None:
    """Have the Cloud DNS stand-in serve the zone of the job's ``cloud-dns`` section."""
    dns = job.dns
    if isinstance(dns, CloudDns):
        name = dns.managed_zone or str(dns.zone).rstrip(".").replace(".", "-")
        apis.dns.add_zone(dns.project, name, f"{str(dns.zone).rstrip('.')}.")


def session_docker_host(session: SandboxSession, apis: SandboxApis) -> str:
    """The ``host:port`` of the session's Artifact Registry Docker endpoint, started the first
    time (InvalidInputError, naming the package, without ``docker-registry``)."""
    found = session.get(GCP_DOCKER_HOST)
    if found is None:
        from qengine.secrets.hygiene import private_tempdir
        from qengine_gcp.sandbox_docker import docker_endpoint, registry_binary

        registry_binary()  # refused before anything starts
        directory = session.stack.enter_context(private_tempdir("gcp-sandbox-registry"))
        front = session.stack.enter_context(
            docker_endpoint(directory, issuer=apis.iam, api=apis.artifact_registry)
        )
        found = front.host
        session.put(GCP_DOCKER_HOST, found)
    return found


def session_settings(session: SandboxSession, job: Job | None = None) -> GcpSettings:
    """The session's GCP sandbox settings, starting the stand-ins the first time: all of
    them for an infrastructure job, the API stand-ins alone for another job, and Artifact
    Registry's Docker endpoint for a job with an ``artifact-registry`` registry."""
    apis = session_apis(session)
    if job is not None:
        serve_zones_of(job, apis)
    settings = _settings(session, apis, job)
    if job is not None and isinstance(job.registry, ArtifactRegistry):
        docker = session_docker_host(session, apis)
        settings = attrs.evolve(settings, artifact_registry_docker_host=docker)
    return settings


def _settings(session: SandboxSession, apis: SandboxApis, job: Job | None) -> GcpSettings:
    found = session.get(GCP_SETTINGS)
    if found is not None:
        return found
    from qengine_gcp.sandbox import SANDBOX_TOKEN, sandbox_gcp

    if job is not None and not isinstance(job, InfrastructureJob):
        return apis.point(GcpSettings(sandbox_token=SANDBOX_TOKEN, poll_interval=0.05))
    shared = session.cluster()
    settings = session.stack.enter_context(sandbox_gcp(shared, apis=apis))
    session.put(GCP_SETTINGS, settings)
    if shared is None and settings.sandbox is not None:
        session.put(SANDBOX_CLUSTER, settings.sandbox)
    return settings
