"""Engine-side settings of the Kubernetes plugin: what a host or a sandbox run configures.

They are never part of a job: where the API answers in a sandbox run, how many revisions are
kept, how long a rollout may take at most. Steps read them as ``services.settings["kubernetes"]``
(a :class:`KubeSettings` or a mapping of its fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

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
    ``QENGINE_HELM`` of the host, else ``helm`` on PATH). ``chart_root``: where a Helm service's
    local chart ``path`` is resolved (default: the engine's working directory).
    ``service_account_dir``: where the ``in-cluster`` target reads the pod's ``token`` and
    ``ca.crt``.
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


def settings_of(services: Any) -> KubeSettings:
    """The settings given to this job's services, or the defaults."""
    given = getattr(services, "settings", {}).get(PLUGIN)
    if isinstance(given, KubeSettings):
        return given
    if isinstance(given, Mapping):
        return KubeSettings(**dict(given))
    return KubeSettings()
