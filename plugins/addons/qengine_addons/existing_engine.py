"""The ``existing`` provider's :class:`~qengine.plugin.InfraEngine`: the add-on stack on a
cluster qengine did not create.

Every plan starts with ``existing.preflight``: helm can be run (:func:`require_helm`), the
cluster answers, and (``create``, ``upgrade``) its server's minor version is the job's
``cluster.kubernetes_version``: qengine does not upgrade a cluster it does not own, so a job
that asks for another version is refused with both named. Then:

- ``create`` and ``upgrade``: the add-on stack's steps (:func:`addon_steps`), with the
  section's service account annotations as the add-ons' cloud identities;
- ``delete``: every add-on release of the stack uninstalled (:func:`uninstall_steps`); the
  CRDs, the namespace and the cluster stay;
- ``pause`` and ``resume``: refused by the checks before anything runs (no step here).

The steps are journalled, resumed and cancelled by the runner like every other plugin's.
The cluster is reached through the Kubernetes plugin's public connection code
(:func:`qengine_kubernetes.access.connect` through a
:class:`~qengine_kubernetes.access.ClusterCell`), from the section's kubeconfig or the pod's
service account, or from the engine's settings (:class:`ExistingSettings`: the sandbox's
simulator).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
from qengine_kubernetes.access import ClusterCell
from qengine_kubernetes.client import KubeApi, cancelled_by
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget

from qengine.plugin import InfraEngine, InvalidInputError
from qengine.runner import Step, StepContext
from qengine.spec import InfraAction, InfrastructureJob, TargetSpec
from qengine_addons.existing import ExistingCluster
from qengine_addons.stack import AddonSettings, addon_steps, require_helm, uninstall_steps

if TYPE_CHECKING:
    from qengine.plugin import JobServices

#: The plugin's name: the key of its engine settings.
PLUGIN = "addons"
PREFLIGHT = "existing.preflight"
SANDBOX_NOTICE = (
    "SANDBOX: the existing cluster is the in-process Kubernetes API simulator; nothing really "
    "runs, and the add-ons are the test stand-in charts."
)


@attrs.frozen(kw_only=True)
class ExistingSettings:
    """Engine-side settings of the ``existing`` provider (a host's or the sandbox's, never a
    job's).

    ``endpoint``, ``ca_pem`` and ``token``: a cluster given directly (the sandbox's
    simulator), in place of the section's kubeconfig or in-cluster access. ``addons``: how the
    stack is installed (helm, freeze, chart directory, test charts). ``sandbox``: the run is a
    sandbox run (its preflight says so).
    """

    endpoint: str | None = None
    ca_pem: str = ""
    token: str = attrs.field(default="", repr=False)
    addons: AddonSettings = attrs.field(factory=AddonSettings)
    sandbox: bool = False


def settings_of(services: JobServices) -> ExistingSettings:
    """The settings given for this job (the defaults when none were given); settings of
    another type under the plugin's name are refused rather than ignored."""
    given = services.settings_for(PLUGIN, ExistingSettings)
    if given is not None:
        return given
    if PLUGIN in services.settings:
        found = type(services.settings[PLUGIN]).__name__
        raise InvalidInputError(
            f"the engine settings of {PLUGIN!r} are a {found}, not an ExistingSettings",
            hint="Give them as qengine_addons.existing_engine.ExistingSettings(...).",
        )
    return ExistingSettings()


def target_of(section: ExistingCluster) -> TargetSpec:
    """The Kubernetes plugin's target equivalent to the section's access."""
    if section.in_cluster:
        return InClusterTarget(kind="in-cluster")
    return KubeconfigTarget(kind="kubeconfig", path=section.kubeconfig, context=section.context)


def server_minor(version: Mapping[str, object]) -> str:
    """``major.minor`` of a ``/version`` answer (``"31+"``, as some clouds report, is 31)."""
    major = re.sub(r"\D", "", str(version.get("major", "")))
    minor = re.sub(r"\D", "", str(version.get("minor", "")))
    if not major or not minor:  # fall back on gitVersion (v1.31.2-k3s1)
        found = re.match(r"v?(\d+)\.(\d+)", str(version.get("gitVersion", "")))
        if found is None:
            raise InvalidInputError(f"the cluster's /version answer names no version: {version}")
        major, minor = found.groups()
    return f"{int(major)}.{int(minor)}"


class ExistingInfraEngine(InfraEngine):
    """The add-on stack on a cluster qengine did not create; the cluster itself is left alone.

    Built from the job's ``cluster.provider`` section and its services; building it and its
    steps sends no request (the cluster is reached when a step first needs it).
    """

    def __init__(self, section: ExistingCluster, services: JobServices) -> None:
        self.section = section
        self._settings = settings_of(services)
        kube = KubeSettings(
            endpoint=self._settings.endpoint,
            ca_pem=self._settings.ca_pem,
            token=self._settings.token,
        )
        self._cell = ClusterCell(target_of(section), kube)

    def connect(self, ctx: StepContext) -> KubeApi:
        """The job's client of the cluster (one per job, made on first use)."""
        return self._cell.api()

    def create(self, job: InfrastructureJob) -> Sequence[Step]:
        """The preflight (helm, the cluster reachable at the job's version), then the stack."""
        return self._installing(job, InfraAction.CREATE)

    def upgrade(self, job: InfrastructureJob) -> Sequence[Step]:
        """As :meth:`create`: the cluster's own version is not qengine's to change, so an
        upgrade brings the stack to the job (new pinned versions, values) on the cluster as it
        is."""
        return self._installing(job, InfraAction.UPGRADE)

    def pause(self, job: InfrastructureJob) -> Sequence[Step]:
        """Refused: qengine does not own the cluster's nodes."""
        raise InvalidInputError("$.action: an existing cluster cannot be paused by qengine")

    def resume(self, job: InfrastructureJob) -> Sequence[Step]:
        """Refused: qengine does not own the cluster's nodes."""
        raise InvalidInputError("$.action: an existing cluster cannot be resumed by qengine")

    def delete(self, job: InfrastructureJob) -> Sequence[Step]:
        """The preflight (helm, the cluster reachable), then every add-on release of the stack
        uninstalled; its CRDs stay, and so does the cluster."""
        job = _as(job, InfraAction.DELETE)
        return [
            self._preflight(job),
            *uninstall_steps(job, self.connect, self._settings.addons, after=(PREFLIGHT,)),
        ]

    def _installing(self, job: InfrastructureJob, action: InfraAction) -> list[Step]:
        job = _as(job, action)
        identities = dict(self.section.service_accounts)
        steps = addon_steps(
            job,
            self.connect,
            self._settings.addons,
            after=(PREFLIGHT,),
            service_accounts=identities,
        )
        return [self._preflight(job), *steps]

    def _preflight(self, job: InfrastructureJob) -> Step:
        settings = self._settings

        def run(ctx: StepContext) -> Mapping[str, str]:
            if settings.sandbox:
                ctx.emit_warning(SANDBOX_NOTICE)
            helm = require_helm(job, settings.addons)
            with cancelled_by(ctx.cancel):
                version = server_minor(self.connect(ctx).request("GET", "/version"))
            wanted = job.cluster.kubernetes_version
            if job.action is not InfraAction.DELETE and version != wanted:
                raise InvalidInputError(
                    f"$.cluster.kubernetes_version: the cluster runs Kubernetes {version}, and "
                    f"the job asks for {wanted}",
                    hint="qengine does not upgrade a cluster it did not create: upgrade it with "
                    f"what made it, or set cluster.kubernetes_version to {version}.",
                )
            ctx.emit_progress(f"the existing cluster answers, Kubernetes {version}")
            return {"server_version": version, "helm": helm or ""}

        return Step(
            id=PREFLIGHT,
            run=run,
            description="check helm, and that the existing cluster answers at the job's version",
        )


def _as(job: InfrastructureJob, action: InfraAction) -> InfrastructureJob:
    """The job planned as ``action``, whatever its own says."""
    return job if job.action is action else attrs.evolve(job, action=action)
