"""Serving, authentication, kubeconfig and discovery of the Kubernetes simulator."""

from __future__ import annotations

import json
import ssl
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from qengine.testing.kube import KubeSimulator

from .conftest import Raw


def test_wrong_token_gets_401_status(raw: Raw) -> None:
    status, body, _ = raw.request("GET", "/api/v1/namespaces", token="wrong")
    assert status == 401
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_the_bearer_scheme_is_case_insensitive(sim: KubeSimulator) -> None:
    tls = ssl.create_default_context(cadata=sim.ca_pem.decode())
    for scheme, expected in (("bearer", 200), ("BEARER", 200), ("Basic", 401)):
        request = urllib.request.Request(
            sim.url + "/api/v1/namespaces", headers={"Authorization": f"{scheme} {sim.token}"}
        )
        try:
            with urllib.request.urlopen(request, context=tls, timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == expected, scheme


def test_right_token_lists_default_namespaces(raw: Raw) -> None:
    names = [n["metadata"]["name"] for n in raw.get("/api/v1/namespaces")["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


def test_tls_is_verified_against_the_generated_ca(sim: KubeSimulator) -> None:
    untrusting = ssl.create_default_context()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(sim.url + "/version", context=untrusting, timeout=5)
    trusting = ssl.create_default_context(cadata=sim.ca_pem.decode())
    with urllib.request.urlopen(sim.url + "/version", context=trusting, timeout=5) as resp:
        version = json.loads(resp.read())
    assert (version["major"], version["minor"], version["gitVersion"]) == ("1", "31", "v1.31.0")


def test_kubeconfig_is_private_and_complete(sim: KubeSimulator, tmp_path: Path) -> None:
    path = sim.write_kubeconfig(tmp_path / "kc")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(sim.kubeconfig_path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["clusters"][0]["cluster"]["server"] == sim.url
    assert document["users"][0]["user"]["token"] == sim.token


def test_stop_removes_temporary_files_and_stops_serving() -> None:
    simulator = KubeSimulator().start()
    path, url = simulator.kubeconfig_path, simulator.url
    simulator.stop()
    assert not path.exists()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/version", context=ssl.create_default_context(), timeout=2)


def test_core_discovery_lists_resources_with_verbs_and_short_names(raw: Raw) -> None:
    assert raw.get("/api")["versions"] == ["v1"]
    resources = {r["name"]: r for r in raw.get("/api/v1")["resources"]}
    pods = resources["pods"]
    assert pods["namespaced"] is True
    assert pods["kind"] == "Pod"
    assert pods["singularName"] == "pod"
    assert pods["shortNames"] == ["po"]
    assert set(pods["verbs"]) == {
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    }
    assert resources["namespaces"]["namespaced"] is False
    assert resources["pods/log"]["verbs"] == ["get"]
    assert "pods/status" in resources


def test_group_discovery_and_scale_subresource(raw: Raw) -> None:
    groups = {g["name"]: g for g in raw.get("/apis")["groups"]}
    assert groups["apps"]["preferredVersion"]["groupVersion"] == "apps/v1"
    assert groups["autoscaling"]["preferredVersion"]["version"] == "v2"
    resources = {r["name"]: r for r in raw.get("/apis/apps/v1")["resources"]}
    assert resources["deployments"]["shortNames"] == ["deploy"]
    assert resources["deployments/scale"]["group"] == "autoscaling"
    assert resources["deployments/scale"]["kind"] == "Scale"
    status, body, _ = raw.request("GET", "/apis/nope.example.com/v1")
    assert status == 404
    assert body["reason"] == "NotFound"


def test_aggregated_discovery_request_gets_plain_json(raw: Raw) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    status, body, headers = raw.request("GET", "/apis", headers={"Accept": accept})
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body["kind"] == "APIGroupList"


def test_public_paths_need_no_token(raw: Raw) -> None:
    status, body, _ = raw.request("GET", "/healthz", token="")
    assert (status, body) == (200, "ok")
