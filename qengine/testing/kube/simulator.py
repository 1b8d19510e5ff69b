"""The public front of the simulator: :class:`KubeSimulator`."""

from __future__ import annotations

import secrets
import shutil
import ssl
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from qengine._errors import InvalidInputError
from qengine.testing.kube import certs, crds, kubeconfig
from qengine.testing.kube.clock import SimClock
from qengine.testing.kube.context import SimContext
from qengine.testing.kube.controllers.certissuers import ACME_DIRECTORIES
from qengine.testing.kube.controllers.manager import ControllerManager
from qengine.testing.kube.documents import clone
from qengine.testing.kube.faults import Faults
from qengine.testing.kube.objects import ObjectApi, WriteOptions
from qengine.testing.kube.requestlog import Arrival, RequestLog, RequestRecord
from qengine.testing.kube.resources import ResourceType, TypeRegistry
from qengine.testing.kube.seed import seed
from qengine.testing.kube.server import SimServer
from qengine.testing.kube.store import Store

JSON = dict[str, Any]


class KubeSimulator:
    """A Kubernetes API server simulator on ``127.0.0.1`` over HTTPS, for tests.

    Use as a context manager (or call :meth:`start` and :meth:`stop`). ``port=0`` picks a free
    port. ``readiness_delay`` is how long a started pod takes to become Ready. ``controllers``
    switches the simulated controllers (deployments, replica sets, stateful sets, jobs, cron
    jobs, endpoint slices, volume binding, ingress addresses, namespace finalization).
    ``server_version`` ("major.minor") is what ``/version`` reports; the default, 1.31, keeps
    kubectl on JSON (kubectl 1.32+ sends protobuf for ``kubectl create``, not decoded here).
    ``pod_termination_delay`` > 0 makes deleted pods stay Terminating that many seconds
    (with controllers on); the default deletes them at once.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        token: str | None = None,
        readiness_delay: float = 0.5,
        controllers: bool = True,
        kubeconfig_path: Path | None = None,
        history: int = 20000,
        seed_value: int | None = None,
        server_version: str = "1.31",
        pod_termination_delay: float = 0.0,
    ) -> None:
        self._port = port
        self.token = token or secrets.token_urlsafe(24)
        self.clock = SimClock()
        self.types = TypeRegistry()
        self.store = Store(self.types, self.clock, history=history)
        self.api = ObjectApi(self.store)
        self.api.pod_termination_delay = pod_termination_delay if controllers else 0.0
        self.api.acme_directories = set(ACME_DIRECTORIES)
        self.faults = Faults(seed_value)
        self._log = RequestLog()
        self._stopping = threading.Event()
        self._ctx = SimContext(
            store=self.store, api=self.api, faults=self.faults, stopping=self._stopping.is_set
        )
        self._controllers = (
            ControllerManager(self.api, self.faults, readiness_delay=readiness_delay)
            if controllers
            else None
        )
        self._ctx.server_version = server_version
        self._kubeconfig_wanted = kubeconfig_path
        self._tmpdir: Path | None = None
        self._server: SimServer | None = None
        self._thread: threading.Thread | None = None
        self.ca_pem = b""
        self.kubeconfig_path = Path()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> KubeSimulator:
        """Generate certificates, seed the cluster, start serving and write the kubeconfig."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> KubeSimulator:
        served = certs.generate()
        self.ca_pem = served.ca_pem
        tls = self._tls_context(served)
        self.api.on_commit.append(lambda rtype, old, new: crds.on_commit(self.api, rtype, old, new))
        with self.store.lock:
            seed(self.api)
            if self._controllers is not None:
                # A fresh cluster already has each namespace's service account and CA map.
                self._controllers.ca_pem = self.ca_pem.decode()
                self._controllers.reconcile()
        self._server = SimServer(self._port, self._ctx, self.token, self._log, tls)
        self._ctx.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="kube-sim-http", daemon=True
        )
        self._thread.start()
        if self._controllers is not None:
            self._controllers.ca_pem = self.ca_pem.decode()
            self._controllers.start()
        self.kubeconfig_path = self.write_kubeconfig(self._kubeconfig_wanted or self._temp_path())
        return self

    def _tls_context(self, served: certs.ServingCerts) -> ssl.SSLContext:
        self._tmpdir = Path(tempfile.mkdtemp(prefix="qengine-kube-sim-"))
        cert, key = self._tmpdir / "tls.crt", self._tmpdir / "tls.key"
        cert.write_bytes(served.cert_pem)
        # ssl loads keys only from files: the key exists 0600, for as long as loading takes.
        kubeconfig.write_private(key, served.key_pem)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        key.unlink()
        return tls

    def _temp_path(self) -> Path:
        assert self._tmpdir is not None
        return self._tmpdir / "kubeconfig"

    def stop(self) -> None:
        """Stop serving, end watches, stop controllers and remove temporary files."""
        self._stopping.set()
        with self.store.lock:
            self.store.closed = True
            self.store.changed.notify_all()
        if self._controllers is not None:
            self._controllers.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> KubeSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- connection facts -----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "the simulator is not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return f"https://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: Path, *, namespace: str = "default") -> Path:
        """Write a kubeconfig for this simulator to ``path`` (mode 0600); returns ``path``."""
        document = kubeconfig.render(self.url, self.token, self.ca_pem, namespace=namespace)
        return kubeconfig.write(Path(path), document)

    @property
    def acme_directories(self) -> set[str]:
        """The ACME directory URLs the simulated cert-manager registers accounts with (Let's
        Encrypt's production and staging by default); an issuer naming another server is not
        Ready, as if it could not be reached. A mutable set: tests add or remove servers."""
        return self.api.acme_directories

    @property
    def controller_errors(self) -> list[str]:
        """Tracebacks of controller passes that failed (empty when all is well)."""
        return list(self._controllers.errors) if self._controllers is not None else []

    # -- observation ----------------------------------------------------------------------

    def requests(self) -> list[RequestRecord]:
        """Every request answered so far, oldest first."""
        return self._log.records()

    def arrivals(self) -> list[Arrival]:
        """Every request (method, path, query) that arrived so far, oldest first, including
        those not answered yet (an open watch is in :meth:`requests` only once it ends)."""
        return self._log.arrivals()

    def clear_requests(self) -> None:
        """Empty the request log (and the arrivals)."""
        self._log.clear()

    def _rtype(self, resource: str) -> ResourceType:
        plural, _, group = resource.partition(".")
        rtype = self.types.preferred(group, plural)
        if rtype is None:
            raise InvalidInputError(
                f"unknown resource {resource!r}",
                hint="name it plural[.group], e.g. deployments.apps or configmaps",
            )
        return rtype

    def objects(self, resource: str, namespace: str | None = None) -> list[JSON]:
        """Copies of the stored objects of ``resource`` (``plural[.group]``), sorted by name."""

        rtype = self._rtype(resource)
        with self.store.lock:
            items, _, _, _ = self.store.select(rtype, namespace, lambda obj: True)
            return clone(items)

    def get_object(self, resource: str, namespace: str, name: str) -> JSON | None:
        """A copy of one stored object, or None."""

        rtype = self._rtype(resource)
        with self.store.lock:
            found = self.store.find(rtype.key, namespace if rtype.namespaced else "", name)
            return clone(found)

    def create_object(self, obj: JSON, *, manager: str = "qengine-test") -> JSON:
        """Create ``obj`` in-process, with the API's semantics; returns the stored copy."""

        rtype = self.types.by_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
        if rtype is None:
            raise InvalidInputError(
                f"unknown kind {obj.get('apiVersion')}/{obj.get('kind')}",
                hint="create its CustomResourceDefinition first, or fix apiVersion and kind",
            )
        namespace = obj.get("metadata", {}).get("namespace", "default") if rtype.namespaced else ""
        with self.store.lock:
            created = self.api.create(rtype, namespace, obj, WriteOptions(manager=manager))
            return clone(created)
