"""Compaction and reads at a resourceVersion, as a real API server answers them.

References: the API concepts page (kubernetes.io/docs/reference/using-api/api-concepts/,
"Efficient detection of changes", "Resource versions", "Semantics for get and list"), and
Kubernetes 1.31's k8s.io/apiserver: the compactor (storage/etcd3/compact.go: every
``--etcd-compaction-interval``, 5 minutes, up to the revision seen at the previous run), the
watch cache (storage/cacher/watch_cache.go: "too old resource version: N (M)", a 3 s block for
a version not reached yet), the etcd3 store's errors (storage/etcd3/errors.go) and list
options validation (apimachinery meta/internalversion/validation).
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qengine.testing.kube import ApiFault, KubeSimulator, watch

from .conftest import Kubectl, Raw
from .test_api_semantics import CM, configmap


@pytest.fixture
def quiet() -> Iterator[KubeSimulator]:
    """A simulator without controllers: only the test writes, so versions are predictable."""
    with KubeSimulator(controllers=False) as simulator:
        yield simulator


def stream(sim: KubeSimulator, path: str, count: int = 10) -> tuple[int, list[dict[str, Any]]]:
    """(HTTP status, up to ``count`` watch events) of a watch request."""
    tls = ssl.create_default_context(cadata=sim.ca_pem.decode())
    conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=tls, timeout=15)
    conn.request("GET", path, headers={"Authorization": f"Bearer {sim.token}"})
    resp = conn.getresponse()
    if resp.status != 200:
        body = json.loads(resp.read())
        conn.close()
        return resp.status, [body]
    events: list[dict[str, Any]] = []
    while len(events) < count:
        line = resp.readline()
        if not line:
            break
        events.append(json.loads(line))
    conn.close()
    return resp.status, events


def version(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def test_a_watch_from_a_compacted_version_gets_one_410_expired_event(quiet: KubeSimulator) -> None:
    """A watch older than the history is answered 200 with a single ERROR event whose object
    is a Status 410 reason Expired (the watch cache's errWatcher), then the stream ends."""
    raw = Raw(quiet)
    _, first, _ = raw.request("POST", CM, configmap("first"))
    raw.request("POST", CM, configmap("second"))
    quiet.store.compact()

    status, events = stream(quiet, f"{CM}?watch=1&resourceVersion={version(first)}")

    assert status == 200
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    error = events[0]["object"]
    assert (error["kind"], error["status"], error["code"], error["reason"]) == (
        "Status",
        "Failure",
        410,
        "Expired",
    )
    current = quiet.store.resource_version
    assert error["message"] == f"too old resource version: {version(first)} ({current})"
    # From the current version there is nothing to expire.
    status, events = stream(quiet, f"{CM}?watch=1&resourceVersion={current}&timeoutSeconds=1")
    assert (status, events) == (200, [])


def test_compaction_follows_the_simulated_clock(quiet: KubeSimulator) -> None:
    """The compactor runs every interval and compacts up to the version it saw at its previous
    run: a version stays watchable for at least one interval, and not after two."""
    raw = Raw(quiet)
    _, first, _ = raw.request("POST", CM, configmap("first"))
    _, second, _ = raw.request("POST", CM, configmap("second"))
    assert quiet.store.compaction_interval == 300

    quiet.clock.advance(300)
    _, events = stream(quiet, f"{CM}?watch=1&resourceVersion={version(first)}", count=1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "second")]

    quiet.clock.advance(300)
    _, events = stream(quiet, f"{CM}?watch=1&resourceVersion={version(first)}", count=1)
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410
    path = f"{CM}?watch=1&resourceVersion={version(second)}&timeoutSeconds=1"
    assert stream(quiet, path) == (200, [])


def test_an_open_watch_is_not_cut_short_by_compaction(quiet: KubeSimulator) -> None:
    """The watch cache keeps feeding open watches whatever etcd compacts: a compaction while
    a watch has events still to send does not expire it."""
    raw = Raw(quiet)
    got: list[dict[str, Any]] = []
    since = quiet.store.resource_version
    path = f"{CM}?watch=1&resourceVersion={since}"
    reader = threading.Thread(target=lambda: got.extend(stream(quiet, path, count=2)[1]))
    reader.start()
    time.sleep(0.3)
    with quiet.store.lock:  # the watch cannot send "third" before the compaction
        quiet.create_object(configmap("third"))
        quiet.clock.advance(600)
        quiet.store.compact()
    raw.request("POST", CM, configmap("fourth"))
    reader.join(timeout=10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [
        ("ADDED", "third"),
        ("ADDED", "fourth"),
    ]


def test_the_compaction_interval_is_configurable() -> None:
    with KubeSimulator(controllers=False) as sim:
        sim.store.compaction_interval = 60
        _, first, _ = Raw(sim).request("POST", CM, configmap("first"))
        Raw(sim).request("POST", CM, configmap("second"))
        sim.clock.advance(120)  # two intervals at once: compacted up to the current version
        _, events = stream(sim, f"{CM}?watch=1&resourceVersion={version(first)}", count=1)
        assert events[0]["object"]["reason"] == "Expired"


def test_the_official_client_raises_410_and_a_relist_recovers(quiet: KubeSimulator) -> None:
    """kubernetes.watch.Watch retries once from the same version after a 410, then raises
    ApiException(410): the caller lists again and watches from the list's version."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    k8s_quiet = _client(quiet)
    v1: Any = client.CoreV1Api(k8s_quiet)  # plain dict bodies, as the client accepts
    old = v1.create_namespaced_config_map("default", configmap("old")).metadata.resource_version
    v1.create_namespaced_config_map("default", configmap("newer"))
    quiet.store.compact()

    with pytest.raises(ApiException) as caught:
        for _ in watcher().stream(
            v1.list_namespaced_config_map, "default", resource_version=old, timeout_seconds=2
        ):
            pass
    assert caught.value.status == 410
    assert "Expired" in str(caught.value.reason)

    listed = v1.list_namespaced_config_map("default")
    v1.create_namespaced_config_map("default", configmap("after-relist"))
    seen = [
        (event["type"], event["object"].metadata.name)
        for event in watcher().stream(
            v1.list_namespaced_config_map,
            "default",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=1,
        )
    ]
    assert seen == [("ADDED", "after-relist")]
    k8s_quiet.close()


def watcher() -> Any:
    from kubernetes import watch

    return watch.Watch()  # type: ignore[no-untyped-call]


def _client(sim: KubeSimulator) -> Any:
    from kubernetes import config

    return config.new_client_from_config(str(sim.kubeconfig_path))  # type: ignore[no-untyped-call]


def test_kubectl_get_watch_shows_the_expired_status_and_stops(
    sim: KubeSimulator, kubectl: Kubectl
) -> None:
    """``kubectl get -w`` lists, then watches from the list's version without retrying
    (UntilWithoutRetry in kubectl's get.go): when that version is compacted in between, it
    prints the Expired Status as a row and ends. The list and the watch are delayed here so
    that a write and a compaction fall between them."""
    sim.faults.add_api(
        ApiFault(kind="slow", delay=1.5, methods=("GET",), path_contains="/default/configmaps")
    )
    args = ["kubectl", "--kubeconfig", str(sim.kubeconfig_path), "get", "configmaps", "-w"]
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kubectl.env
    ) as proc:
        deadline = time.monotonic() + 30
        while not any(r.path.endswith("/default/configmaps") for r in sim.requests()):
            assert time.monotonic() < deadline, "kubectl did not list"
            time.sleep(0.01)
        sim.create_object(configmap("between"))
        sim.store.compact()
        out, err = proc.communicate(timeout=30)
    rows = [line.split(None, 2) for line in out.splitlines()]
    assert rows[-2:] == [
        ["STATUS", "REASON", "MESSAGE"],
        ["Failure", "Expired", rows[-1][2]],
    ], out + err
    assert rows[-1][2].startswith("too old resource version: ")
    assert "between" not in out


def test_a_list_at_an_exact_version_reads_the_past_until_it_is_compacted(
    quiet: KubeSimulator,
) -> None:
    """``resourceVersionMatch=Exact`` reads the state at that version (items and list version
    as they were); once compacted, 410 "The resourceVersion for the provided list is too
    old." ``NotOlderThan`` an old version reads the latest state."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api = _client(quiet)
    v1: Any = client.CoreV1Api(api)
    made = v1.create_namespaced_config_map("default", configmap("kept"))
    at = made.metadata.resource_version
    v1.patch_namespaced_config_map("kept", "default", {"data": {"k": "changed"}})
    v1.create_namespaced_config_map("default", configmap("later"))
    v1.delete_namespaced_config_map("kept", "default")

    past = v1.list_namespaced_config_map(
        "default", resource_version=at, resource_version_match="Exact"
    )
    assert past.metadata.resource_version == at
    assert [(i.metadata.name, i.data) for i in past.items] == [("kept", {"k": "v"})]

    latest = v1.list_namespaced_config_map(
        "default", resource_version=at, resource_version_match="NotOlderThan"
    )
    assert int(latest.metadata.resource_version) == quiet.store.resource_version
    assert [i.metadata.name for i in latest.items] == ["later"]

    # The legacy form: a version with a limit and no match reads exactly that version.
    legacy = Raw(quiet).get(f"{CM}?resourceVersion={at}&limit=5")
    assert [i["metadata"]["name"] for i in legacy["items"]] == ["kept"]

    quiet.store.compact()
    with pytest.raises(ApiException) as caught:
        v1.list_namespaced_config_map(
            "default", resource_version=at, resource_version_match="Exact"
        )
    assert caught.value.status == 410
    body = json.loads(caught.value.body or "{}")
    assert (body["reason"], body["message"]) == (
        "Expired",
        "The resourceVersion for the provided list is too old.",
    )
    api.close()


def test_list_options_are_validated_as_the_server_does(raw: Raw) -> None:
    status, body, _ = raw.request("GET", f"{CM}?resourceVersionMatch=Exact")
    assert status == 422
    assert body["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
        "resourceVersionMatch is forbidden unless resourceVersion is provided"
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is "
            "provided",
            "field": "resourceVersionMatch",
        }
    ]
    status, body, _ = raw.request("GET", f"{CM}?resourceVersion=0&resourceVersionMatch=Exact")
    assert status == 422
    assert 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"' in body["message"]
    status, body, _ = raw.request("GET", f"{CM}?resourceVersion=5&resourceVersionMatch=Newest")
    assert status == 422
    assert body["message"].endswith(
        'resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", '
        '"NotOlderThan", ""'
    )
    status, body, _ = raw.request("GET", f"{CM}?resourceVersion=5&continue=abc")
    assert (status, body["message"]) == (
        400,
        "specifying resource version is not allowed when using continue",
    )
    status, body, _ = raw.request("GET", f"{CM}?watch=1&resourceVersionMatch=NotOlderThan")
    assert status == 422
    assert (
        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
        in (body["message"])
    )
    status, body, _ = raw.request(
        "GET", f"{CM}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
    )
    assert status == 422
    assert (
        "sendInitialEvents is forbidden for watch unless the WatchList feature gate"
        in (body["message"])
    )


def test_versions_the_server_has_not_reached(quiet: KubeSimulator) -> None:
    """NotOlderThan a future version blocks 3 s, then 504 Timeout with a
    ResourceVersionTooLarge cause; Exact at one is etcd's future-revision error (500)."""
    raw = Raw(quiet)
    ahead = quiet.store.resource_version + 100
    started = time.monotonic()
    status, body, _ = raw.request("GET", f"{CM}?resourceVersion={ahead}")
    assert time.monotonic() - started >= 2.9
    assert status == 504
    assert body["reason"] == "Timeout"
    current = quiet.store.resource_version
    assert body["message"] == f"Timeout: Too large resource version: {ahead}, current: {current}"
    assert body["details"] == {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }
    status, body, _ = raw.request("GET", f"{CM}?resourceVersion={ahead}&resourceVersionMatch=Exact")
    assert status == 500
    assert body["message"] == "etcdserver: mvcc: required revision is a future revision"
    assert "reason" not in body


def test_pages_of_a_list_are_consistent_and_an_expired_token_offers_the_rest(
    quiet: KubeSimulator,
) -> None:
    """A continue token reads at the version of the first page; once that version is
    compacted, 410 with the inconsistent-continue message and, in the Status's metadata, a
    token that continues at the latest version."""
    raw = Raw(quiet)
    for name in ("a", "b", "c"):
        raw.request("POST", CM, configmap(name))
    first = raw.get(f"{CM}?limit=2")
    token = first["metadata"]["continue"]
    raw.request(
        "PATCH", CM + "/c", {"data": {"k": "new"}}, content_type="application/merge-patch+json"
    )
    raw.request("POST", CM, configmap("d"))

    rest = raw.get(f"{CM}?limit=2&continue={token}")
    assert [(i["metadata"]["name"], i["data"]) for i in rest["items"]] == [("c", {"k": "v"})]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]

    quiet.store.compact()
    status, body, _ = raw.request("GET", f"{CM}?limit=2&continue={token}")
    assert (status, body["reason"]) == (410, "Expired")
    assert body["message"].startswith(
        "The provided continue parameter is too old to display a consistent list result."
    )
    assert "inconsistent list" in body["message"]
    fresh = body["metadata"]["continue"]
    assert fresh
    assert fresh != token
    rest = raw.get(f"{CM}?limit=5&continue={fresh}")
    assert [(i["metadata"]["name"], i["data"]) for i in rest["items"]] == [
        ("c", {"k": "new"}),
        ("d", {"k": "v"}),
    ]
    status, _, _ = raw.request("GET", f"{CM}?continue={base64.b64encode(b'junk').decode()}")
    assert status == 400


def test_a_watch_without_bookmarks_waits_rather_than_spins(
    quiet: KubeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quiet watch that asked for no bookmarks sleeps until a change or its deadline: once the
    bookmark time had passed it used to poll with no wait, a CPU at 100% per open watch."""
    monkeypatch.setattr(watch, "BOOKMARK_INTERVAL", 0.0)  # the bookmark time passed at once
    rounds = 0

    def stopping() -> bool:
        nonlocal rounds
        rounds += 1
        return False

    request = watch.WatchRequest(
        rtype=quiet._rtype("configmaps"),
        namespace="default",
        predicate=lambda obj: True,
        resource_version="",
        timeout=1.0,
        bookmarks=False,
    )
    assert list(watch.events(quiet.store, request, stopping)) == []
    assert rounds <= 5  # waits of up to 0.5 s each; spinning made thousands of rounds
