"""Cluster access: kubeconfig resolution and clients that touch no global state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from qengine_kubernetes.access import connect, kubeconfig_path
from qengine_kubernetes.failures import event_failures
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import KubeconfigTarget, SandboxTarget

from qengine import AuthError, InvalidInputError
from qengine.testing.kube import KubeSimulator


def test_k8s_kubeconfig_path_prefers_the_target_then_kubeconfig_then_home() -> None:
    target = KubeconfigTarget(kind="kubeconfig", path="/etc/k/config")
    assert kubeconfig_path(target, {"KUBECONFIG": "/x"}) == "/etc/k/config"
    bare = KubeconfigTarget(kind="kubeconfig")
    assert kubeconfig_path(bare, {"KUBECONFIG": f"/a{os.pathsep}/b"}) == "/a"
    assert kubeconfig_path(bare, {}) == os.path.expanduser("~/.kube/config")


def test_k8s_a_kubeconfig_target_reaches_the_cluster_without_global_state(
    k8s_sim: KubeSimulator,
) -> None:
    environ_before = dict(os.environ)
    target = KubeconfigTarget(kind="kubeconfig", path=str(k8s_sim.kubeconfig_path))

    api = connect(target, KubeSettings(), environ={})

    assert api.get("Namespace", None, "default") is not None
    assert api.transport.connection.server == k8s_sim.url
    assert dict(os.environ) == environ_before


def test_k8s_a_wrong_context_or_file_is_an_input_error(
    k8s_sim: KubeSimulator, tmp_path: Path
) -> None:
    wrong = KubeconfigTarget(kind="kubeconfig", path=str(k8s_sim.kubeconfig_path), context="nope")
    with pytest.raises(InvalidInputError, match="cannot use the kubeconfig"):
        connect(wrong, KubeSettings(), environ={})
    missing = KubeconfigTarget(kind="kubeconfig", path=str(tmp_path / "absent"))
    with pytest.raises(InvalidInputError, match="cannot use the kubeconfig"):
        connect(missing, KubeSettings(), environ={})


def test_k8s_a_sandbox_target_needs_a_sandbox_run() -> None:
    with pytest.raises(InvalidInputError, match="only with --sandbox"):
        connect(SandboxTarget(kind="sandbox"), KubeSettings(), environ={})


def test_k8s_quota_and_readiness_events_are_classified() -> None:
    events = [
        {
            "type": "Warning",
            "reason": "FailedCreate",
            "message": 'pods "web-1" is forbidden: exceeded quota: qengine-quota, requested: '
            "requests.cpu=2",
            "involvedObject": {"kind": "ReplicaSet", "name": "web-5d8f"},
        },
        {
            "type": "Warning",
            "reason": "Unhealthy",
            "message": "Readiness probe failed: HTTP probe failed with statuscode: 503",
            "involvedObject": {"kind": "Pod", "name": "web-5d8f-x"},
        },
        {
            "type": "Warning",
            "reason": "FailedCreate",
            "message": "exceeded quota",
            "involvedObject": {"kind": "ReplicaSet", "name": "webhook-1"},
        },
        {"type": "Normal", "reason": "Pulled", "involvedObject": {"name": "web-5d8f-x"}},
    ]
    found = event_failures(events, "web")
    assert [(f.reason, f.fatal) for f in found] == [
        ("QuotaExceeded", True),
        ("ReadinessProbeFailed", False),
    ]
    assert "quota" in found[0].hint


def test_k8s_an_in_cluster_target_reads_the_service_account(
    k8s_sim: KubeSimulator, tmp_path: Path
) -> None:
    from qengine_kubernetes.spec import InClusterTarget

    ca = k8s_sim.ca_pem
    (tmp_path / "token").write_text(k8s_sim.token)
    (tmp_path / "ca.crt").write_bytes(ca if isinstance(ca, bytes) else ca.encode())
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(k8s_sim.port)}
    settings = KubeSettings(service_account_dir=str(tmp_path))

    api = connect(InClusterTarget(kind="in-cluster"), settings, environ=environ)

    assert api.get("Namespace", None, "default") is not None
    with pytest.raises(AuthError, match="not running in a cluster"):
        connect(InClusterTarget(kind="in-cluster"), settings, environ={})
