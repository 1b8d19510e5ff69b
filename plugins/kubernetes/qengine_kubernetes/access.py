"""Cluster access: from the job's target (kubeconfig, in-cluster) or the sandbox's settings.

Each job gets its own :class:`~qengine_kubernetes.transport.Transport` over its own
:class:`~qengine_kubernetes.transport.Connection`, built the first time one of its steps needs
the cluster; no global configuration is read or set, so jobs on different clusters can run at
once in one process. The host's environment is only read (``KUBECONFIG``, the in-cluster
service variables, proxies), never written. The official ``kubernetes`` library is imported
only for a kubeconfig whose user runs an exec plugin or an auth provider (see
:mod:`qengine_kubernetes.kubeconfig`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

from qengine.plugin import InvalidInputError
from qengine.spec import TargetSpec
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.kubeconfig import in_cluster, read_kubeconfig
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget, SandboxTarget
from qengine_kubernetes.transport import Connection, Transport


def kubeconfig_path(target: KubeconfigTarget, environ: Mapping[str, str]) -> str:
    """The kubeconfig a target names: its ``path``, else ``KUBECONFIG``, else ~/.kube/config.

    Only the first file of a ``KUBECONFIG`` list is used.
    """
    if target.path:
        return os.path.expanduser(target.path)
    listed = environ.get("KUBECONFIG", "")
    if listed:
        return listed.split(os.pathsep)[0]
    return os.path.expanduser("~/.kube/config")


def connection_of(
    target: TargetSpec, settings: KubeSettings, environ: Mapping[str, str] | None = None
) -> Connection:
    """Where the cluster of ``target`` is and who to be there (``settings.endpoint`` first)."""
    environ = os.environ if environ is None else environ
    if settings.endpoint is not None:
        return direct_connection(settings.endpoint, settings.ca_pem, settings.token)
    if settings.kubeconfig is not None:
        return read_kubeconfig(settings.kubeconfig, settings.context)
    if isinstance(target, KubeconfigTarget):
        return read_kubeconfig(kubeconfig_path(target, environ), target.context)
    if isinstance(target, InClusterTarget):
        return in_cluster(environ, Path(settings.service_account_dir))
    if isinstance(target, SandboxTarget):
        raise InvalidInputError(
            "a sandbox target runs only with --sandbox",
            hint="Run the job with `qengine run JOB --sandbox`, or target a real cluster.",
        )
    raise InvalidInputError(f"the target kind {target.kind!r} is not a Kubernetes cluster")


def direct_connection(endpoint: str, ca_pem: str | bytes | None, token: str | None) -> Connection:
    """A connection to ``endpoint`` checked against ``ca_pem``, as the holder of ``token``."""
    ca = ca_pem.encode() if isinstance(ca_pem, str) else ca_pem
    connection = Connection(server=endpoint.rstrip("/"), ca_pem=ca or None)
    return connection.with_bearer(token) if token else connection


def connect(
    target: TargetSpec, settings: KubeSettings, environ: Mapping[str, str] | None = None
) -> KubeApi:
    """A client of the cluster of ``target`` (or of ``settings.endpoint`` when it is set)."""
    return KubeApi(Transport(connection_of(target, settings, environ)))


class ClusterCell:
    """The one client of one job, made on first use (steps run on several threads)."""

    def __init__(self, target: TargetSpec, settings: KubeSettings) -> None:
        self.target = target
        self.settings = settings
        self._api: KubeApi | None = None
        self._lock = threading.Lock()

    def api(self) -> KubeApi:
        """The job's client."""
        with self._lock:
            if self._api is None:
                self._api = connect(self.target, self.settings)
            return self._api
