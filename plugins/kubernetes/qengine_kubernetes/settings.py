"""Engine-side settings of the Kubernetes plugin: what a host or a sandbox run configures.

They are never part of a job: where the API answers in a sandbox run, how many revisions are
kept, how long a rollout may take at most. A host gives them as ``Engine(settings={"kubernetes":
KubeSettings(...)})``; the command line's ``--kubeconfig`` and ``--context`` (see
:mod:`qengine_kubernetes.options`) and a sandbox run (see :mod:`qengine_kubernetes.sandbox`)
give them the same way. A job's environment engine reads them with :func:`settings_of` when
it is built, so settings of the wrong type stop the job before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from qengine.plugin import InvalidInputError

if TYPE_CHECKING:
    from qengine.plugin import JobServices

PLUGIN = "kubernetes"


@attrs.frozen(kw_only=True)
class KubeSettings:
    """How the plugin reaches the cluster and how patient it is.

    ``endpoint``, ``ca_pem`` and ``token``: a cluster given directly (the sandbox's simulator);
    when ``endpoint`` is None the job's target says how to connect. ``kubeconfig`` (and
    ``context``): the cluster the engine was pointed at (``qengine run --kubeconfig F``), which
    then serves every target of this plugin, the ``sandbox`` target included.
    ``history_limit``: revisions kept per service. ``rollout_timeout``: overrides the timeout
    derived from probes and replicas (tests). ``helm``: the helm binary (default:
    ``QENGINE_HELM`` of the host, else ``helm`` on PATH). ``chart_root``: the directory a Helm
    service's local chart ``path`` is read in (None: local charts are refused; see
    :mod:`qengine_kubernetes.charts`).
    ``service_account_dir``: where the ``in-cluster`` target reads the pod's ``token`` and
    ``ca.crt``. ``lease_namespace``: where each environment job holds its Lease on the cluster
    (see :mod:`qengine_kubernetes.lease`; None: no Lease, the state store's lock alone
    serialises jobs). ``lease_seconds``: how long a Lease lasts unrenewed.
    """

    endpoint: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    ca_pem: str = ""
    token: str = attrs.field(default="", repr=False)
    history_limit: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    rollout_timeout: float | None = None
    helm: str | None = None
    chart_root: str | None = None
    service_account_dir: str = "/var/run/secrets/kubernetes.io/serviceaccount"
    lease_namespace: str | None = "qengine-system"
    lease_seconds: float = attrs.field(default=30.0, validator=attrs.validators.ge(3.0))


def settings_of(services: JobServices) -> KubeSettings:
    """The settings given for this job (the defaults when none were given).

    Anything but a :class:`KubeSettings` under the plugin's name is refused rather than
    ignored: ignoring it would send the job to whatever cluster the defaults reach.
    """
    given = services.settings_for(PLUGIN, KubeSettings)
    if given is not None:
        return given
    if PLUGIN in services.settings:
        found = type(services.settings[PLUGIN]).__name__
        raise InvalidInputError(
            f"the engine settings of {PLUGIN!r} are a {found}, not a KubeSettings",
            hint="Give them as qengine_kubernetes.KubeSettings(...).",
        )
    return KubeSettings()
