"""Protobuf request bodies, as typed Go clients (kubectl 1.32+, Helm 3.17) send them."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

from qengine.testing.kube import KubeSimulator
from qengine.testing.kube.protobuf import decode_object
from qengine.testing.kube.status import ApiError

from .conftest import Kubectl, get


def _key(number: int, wire: int) -> bytes:
    return bytes([number << 3 | wire])


def _len(number: int, payload: bytes) -> bytes:
    assert len(payload) < 128
    return _key(number, 2) + bytes([len(payload)]) + payload


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _len(1, api_version.encode()) + _len(2, kind.encode())
    return b"k8s\x00" + _len(1, type_meta) + _len(2, raw)


def test_decodes_a_secret() -> None:
    meta = _len(1, b"s1") + _len(3, b"") + _len(11, _len(1, b"app") + _len(2, b"web"))
    secret = _len(1, meta) + _len(2, _len(1, b"k") + _len(2, b"\x00\xff")) + _len(3, b"Opaque")
    decoded = decode_object(_envelope("v1", "Secret", secret))
    assert decoded == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s1", "labels": {"app": "web"}},
        "data": {"k": base64.b64encode(b"\x00\xff").decode()},
        "type": "Opaque",
    }


def test_decodes_delete_options() -> None:
    options = _key(1, 0) + b"\x00" + _len(4, b"Foreground") + _len(5, b"All")
    decoded = decode_object(_envelope("meta.k8s.io/v1", "DeleteOptions", options))
    assert decoded == {
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    }


def test_other_kinds_are_415() -> None:
    with pytest.raises(ApiError) as info:
        decode_object(_envelope("apps/v1", "Deployment", b""))
    assert info.value.code == 415
    with pytest.raises(ApiError) as info:
        decode_object(b"not protobuf")
    assert info.value.code == 415


def _kubectl_132() -> Path:
    found = shutil.which("kubectl")
    assert found, "kubectl is not on the PATH; the machine image provides it"
    real = Path(os.path.realpath(found)).parent / "kubectl.1.32"
    assert real.exists(), (
        f"{real} is missing; the image's kubectl dispatcher ships kubectl 1.27-1.33"
    )
    return real


def test_kubectl_132_create_sends_protobuf_and_works(sim: KubeSimulator, tmp_path: Path) -> None:
    kubectl = Kubectl(sim.kubeconfig_path, tmp_path / "home")
    binary = str(_kubectl_132())
    kubectl.run_binary(binary, "create", "namespace", "pb")
    kubectl.run_binary(
        binary, "-n", "pb", "create", "secret", "generic", "s", "--from-literal=password=hunter2"
    )
    kubectl.run_binary(binary, "-n", "pb", "create", "configmap", "c", "--from-literal=a=1")
    assert get(sim, "secrets", "pb", "s")["data"] == {"password": "aHVudGVyMg=="}
    assert get(sim, "configmaps", "pb", "c")["data"] == {"a": "1"}
    protobuf = [
        r for r in sim.requests() if r.content_type == "application/vnd.kubernetes.protobuf"
    ]
    assert len(protobuf) == 3
