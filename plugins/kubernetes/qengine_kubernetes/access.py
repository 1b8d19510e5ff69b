"""Cluster access: from the job's target (kubeconfig, in-cluster) or the sandbox's settings.

Each job gets its own ``kubernetes.client.ApiClient`` with its own ``Configuration``, built
the first time one of its steps needs the cluster; the library's global default configuration
is never read or set, so jobs on different clusters can run at once in one process. The host's
environment is only read (``KUBECONFIG``, the in-cluster service variables), never written.
Only the library's client and kubeconfig loaders are imported (see :mod:`qengine_kubernetes.sdk`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qengine.plugin import AuthError, InvalidInputError
from qengine.spec import TargetSpec
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.sdk import import_parts
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget, SandboxTarget


def _load_kubeconfig(configuration: Any, path: str, context: str | None) -> None:
    from kubernetes import config

    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (config.ConfigException, OSError) as exc:
        raise InvalidInputError(
            f"cannot use the kubeconfig {path}: {exc}",
            hint="Give a readable kubeconfig and an existing context.",
        ) from exc


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


def connect(
    target: TargetSpec, settings: KubeSettings, environ: Mapping[str, str] | None = None
) -> KubeApi:
    """A client of the cluster of ``target`` (or of ``settings.endpoint`` when it is set)."""
    import_parts()
    from kubernetes import client

    environ = os.environ if environ is None else environ
    if settings.endpoint is not None:
        return _client(_direct(settings))
    configuration = client.Configuration()
    if settings.kubeconfig is not None:
        _load_kubeconfig(configuration, settings.kubeconfig, settings.context)
    elif isinstance(target, KubeconfigTarget):
        _load_kubeconfig(configuration, kubeconfig_path(target, environ), target.context)
    elif isinstance(target, InClusterTarget):
        _load_in_cluster(configuration, environ, Path(settings.service_account_dir))
    elif isinstance(target, SandboxTarget):
        raise InvalidInputError(
            "a sandbox target runs only with --sandbox",
            hint="Run the job with `qengine run JOB --sandbox`, or target a real cluster.",
        )
    return _client(configuration)


def _client(configuration: Any) -> KubeApi:
    """The job's client over ``configuration``, with the transport's own retries off: urllib3
    would otherwise re-send some requests silently (connection errors, 429/503 with
    ``Retry-After``), hiding them from the engine's one retry policy (``KubeApi``)."""
    from kubernetes import client

    configuration.retries = False
    return KubeApi(client.ApiClient(configuration))


def _direct(settings: KubeSettings) -> Any:
    from kubernetes import client

    configuration = client.Configuration(host=settings.endpoint)
    if settings.ca_pem:
        configuration.ca_cert_data = settings.ca_pem
    if settings.token:
        configuration.api_key["BearerToken"] = f"Bearer {settings.token}"
    return configuration


def _load_in_cluster(configuration: Any, environ: Mapping[str, str], directory: Path) -> None:
    from kubernetes import config
    from kubernetes.config.incluster_config import InClusterConfigLoader

    loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
        token_filename=str(directory / "token"),
        cert_filename=str(directory / "ca.crt"),
        environ=dict(environ),
    )
    try:
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException as exc:
        raise AuthError(
            f"not running in a cluster: {exc}",
            hint="The in-cluster target needs the pod's service account token and CA.",
        ) from exc
    _canonical_bearer(configuration)
    refresh = configuration.refresh_api_key_hook

    def refreshed(conf: Any) -> None:
        # The loader re-reads the rotated token file; keep the scheme's canonical spelling.
        refresh(conf)
        _canonical_bearer(conf)

    configuration.refresh_api_key_hook = refreshed


def _canonical_bearer(configuration: Any) -> None:
    """``Bearer <token>``: the loader writes ``bearer``, which servers must accept (RFC 7235
    schemes are case-insensitive) but not every one does."""
    token = configuration.api_key.get("BearerToken")
    if isinstance(token, str) and token.lower().startswith("bearer "):
        configuration.api_key["BearerToken"] = "Bearer " + token[len("bearer ") :]


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
