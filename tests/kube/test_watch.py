"""Watches over HTTP: live events from a resourceVersion, bookmarks, 410 Gone, timeouts."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from typing import Any

from qengine.testing.kube import KubeSimulator

from .conftest import Kubectl, Raw
from .test_api_semantics import CM, configmap


def stream(sim: KubeSimulator, path: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """Read ``count`` watch events (or until the server ends the stream)."""
    tls = ssl.create_default_context(cadata=sim.ca_pem.decode())
    conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=tls, timeout=timeout)
    conn.request("GET", path, headers={"Authorization": f"Bearer {sim.token}"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Transfer-Encoding") == "chunked"
    events: list[dict[str, Any]] = []
    while len(events) < count:
        line = resp.readline()
        if not line:
            break
        events.append(json.loads(line))
    conn.close()
    return events


def test_watch_from_a_version_streams_live_changes(sim: KubeSimulator, raw: Raw) -> None:
    _, first, _ = raw.request("POST", CM, configmap("before"))
    since = first["metadata"]["resourceVersion"]
    got: list[dict[str, Any]] = []
    reader = threading.Thread(
        target=lambda: got.extend(
            stream(sim, f"{CM}?watch=1&resourceVersion={since}&labelSelector=w%3D1", 3)
        )
    )
    reader.start()
    time.sleep(0.2)
    raw.request("POST", CM, configmap("live", w="1"))
    raw.request(
        "PATCH", CM + "/live", {"data": {"k": "v2"}}, content_type="application/merge-patch+json"
    )
    raw.request("DELETE", CM + "/live")
    reader.join(timeout=10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [
        ("ADDED", "live"),
        ("MODIFIED", "live"),
        ("DELETED", "live"),
    ]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in got]
    assert versions == sorted(versions)
    assert versions[0] > int(since)


def test_watch_without_version_starts_with_current_objects(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", CM, configmap("one", w="2"))
    events = stream(sim, f"{CM}?watch=true&labelSelector=w%3D2&timeoutSeconds=1", 5)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "one")]


def test_watch_bookmarks_carry_the_current_version(sim: KubeSimulator, raw: Raw) -> None:
    _, obj, _ = raw.request("POST", CM, configmap("b"))
    rv = obj["metadata"]["resourceVersion"]
    events = stream(
        sim, f"{CM}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&labelSelector=none%3D1", 1
    )
    assert events[0]["type"] == "BOOKMARK"
    assert events[0]["object"]["kind"] == "ConfigMap"
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_watch_from_a_compacted_version_gets_410_error_event() -> None:
    with KubeSimulator(history=20, controllers=False) as small:
        raw = Raw(small)
        _, obj, _ = raw.request("POST", CM, configmap("old"))
        old_rv = obj["metadata"]["resourceVersion"]
        for index in range(30):
            raw.request("POST", CM, configmap(f"n{index}"))
        events = stream(small, f"{CM}?watch=1&resourceVersion={old_rv}", 1)
        assert events[0]["type"] == "ERROR"
        assert events[0]["object"]["code"] == 410
        assert events[0]["object"]["reason"] == "Expired"
        assert events[0]["object"]["kind"] == "Status"


def test_watch_ends_at_timeout_seconds(sim: KubeSimulator) -> None:
    started = time.monotonic()
    # A selector nothing matches: controllers may write in the namespace meanwhile.
    path = f"{CM}?watch=1&resourceVersion={sim.store.resource_version}&timeoutSeconds=1"
    events = stream(sim, path + "&labelSelector=none%3Dnone", 10)
    assert events == []
    assert time.monotonic() - started < 5


def test_selector_watch_sees_objects_enter_and_leave(sim: KubeSimulator, raw: Raw) -> None:
    _, obj, _ = raw.request("POST", CM, configmap("mover", w="no"))
    since = obj["metadata"]["resourceVersion"]
    got: list[dict[str, Any]] = []
    path = f"{CM}?watch=1&resourceVersion={since}&labelSelector=w%3Dyes"
    reader = threading.Thread(target=lambda: got.extend(stream(sim, path, 2)))
    reader.start()
    time.sleep(0.2)
    merge = "application/merge-patch+json"
    raw.request("PATCH", CM + "/mover", {"metadata": {"labels": {"w": "yes"}}}, content_type=merge)
    raw.request("PATCH", CM + "/mover", {"metadata": {"labels": {"w": "gone"}}}, content_type=merge)
    reader.join(timeout=10)
    assert [e["type"] for e in got] == ["ADDED", "DELETED"]
    assert got[1]["object"]["metadata"]["labels"] == {"w": "gone"}


def test_kubectl_get_watch_prints_rows(sim: KubeSimulator, kubectl: Kubectl, raw: Raw) -> None:
    import subprocess

    args = ["kubectl", "--kubeconfig", str(sim.kubeconfig_path), "get", "configmaps", "-w"]
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kubectl.env
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().split() == ["NAME", "DATA", "AGE"]
            assert proc.stdout.readline().split()[:2] == ["kube-root-ca.crt", "1"]
            raw.request("POST", CM, configmap("seen"))
            assert proc.stdout.readline().split()[:2] == ["seen", "1"]
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
