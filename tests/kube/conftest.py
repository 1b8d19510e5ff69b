"""Fixtures for the Kubernetes simulator tests: a running simulator, kubectl, the client.

Every simulator a test starts is stopped in teardown. kubectl runs with an explicit
environment (its own HOME, so its discovery cache is private to the test).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qengine.testing.helm import HelmUnavailableError, real_helm
from qengine.testing.kube import KubeSimulator


@pytest.fixture
def sim() -> Iterator[KubeSimulator]:
    with KubeSimulator(readiness_delay=0.2) as simulator:
        yield simulator
        assert simulator.controller_errors == []


class Kubectl:
    """Runs the real kubectl against one kubeconfig."""

    def __init__(self, kubeconfig: Path, home: Path, env: dict[str, str] | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.env = env or {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}

    def run(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=90,
            input=stdin,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}"
            )
        return proc

    def run_binary(self, binary: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a specific kubectl binary (not the dispatcher) with the same kubeconfig."""
        proc = subprocess.run(
            [binary, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=90,
        )
        assert proc.returncode == 0, f"{binary} {' '.join(args)} failed: {proc.stderr}"
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


@pytest.fixture
def kubectl(sim: KubeSimulator, tmp_path: Path) -> Kubectl:
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is not on the PATH; the machine image provides it")
    return Kubectl(sim.kubeconfig_path, tmp_path / "home")


class Raw:
    """Plain HTTPS requests to the simulator (for golden response shapes)."""

    def __init__(self, sim: KubeSimulator) -> None:
        self.base = sim.url
        self.token = sim.token
        self.tls = ssl.create_default_context(cadata=sim.ca_pem.decode())

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token if token is None else token}")
        req.add_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=30) as resp:
                raw = resp.read()
                return resp.status, _decode(raw), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read()), dict(exc.headers)

    def get(self, path: str) -> Any:
        status, body, _ = self.request("GET", path)
        assert status == 200, body
        return body


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode()


@pytest.fixture
def raw(sim: KubeSimulator) -> Raw:
    return Raw(sim)


@pytest.fixture
def k8s(sim: KubeSimulator) -> Iterator[Any]:
    from kubernetes import config

    api_client = config.new_client_from_config(str(sim.kubeconfig_path))  # type: ignore[no-untyped-call]
    yield api_client
    api_client.close()


def get(simulator: KubeSimulator, resource: str, namespace: str, name: str) -> dict[str, Any]:
    """A stored object that must exist."""
    found = simulator.get_object(resource, namespace, name)
    assert found is not None, f"{resource} {namespace}/{name} does not exist"
    return found


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def helm() -> Path:
    """The real helm: ``$QENGINE_HELM``, else what ``.ci/get-helm.sh`` provides (never a
    skip: it is part of the default run)."""
    try:
        return real_helm(ROOT)
    except HelmUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
