"""Unit tests of the simulator's pure parts: patches, selectors, field sets, cron schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from qengine.testing.kube.apply import Ownership
from qengine.testing.kube.controllers.cron import CronSchedule
from qengine.testing.kube.fieldsets import describe, field_set, to_fields_v1
from qengine.testing.kube.patch import json_patch, merge_patch, strategic_merge
from qengine.testing.kube.selectors import field_selector, label_selector, match_labels
from qengine.testing.kube.status import ApiError


def pod_spec(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": list(containers)}}


def test_strategic_merge_delete_directive_and_order() -> None:
    base = pod_spec({"name": "a", "image": "1"}, {"name": "b", "image": "2"})
    deleted = strategic_merge(base, pod_spec({"name": "a", "$patch": "delete"}))
    assert deleted == pod_spec({"name": "b", "image": "2"})
    ordered = strategic_merge(
        base,
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": [{"name": "a", "image": "3"}],
            }
        },
    )
    assert [c["name"] for c in ordered["spec"]["containers"]] == ["b", "a"]
    assert ordered["spec"]["containers"][1]["image"] == "3"


def test_strategic_merge_keys_and_primitive_lists() -> None:
    base: dict[str, Any] = {
        "metadata": {"finalizers": ["a", "b"]},
        "spec": {"ports": [{"port": 80, "name": "http"}]},
    }
    patched = strategic_merge(
        base,
        {
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {"ports": [{"port": 443, "name": "https"}]},
        },
    )
    assert patched["metadata"]["finalizers"] == ["b"]
    assert [p["port"] for p in patched["spec"]["ports"]] == [80, 443]
    assert strategic_merge({"spec": {"args": ["x"]}}, {"spec": {"args": ["y"]}}) == {
        "spec": {"args": ["y"]}
    }
    assert strategic_merge(base, {"spec": {"$patch": "replace", "x": 1}})["spec"] == {"x": 1}
    assert base["spec"]["ports"] == [{"port": 80, "name": "http"}]


def test_merge_patch_rfc7386() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}
    }
    assert merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}


def test_json_patch_rfc6902() -> None:
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    ops = [
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "move", "from": "/c", "path": "/d"},
        {"op": "copy", "from": "/d", "path": "/e~1f"},
        {"op": "remove", "path": "/a/b/0"},
        {"op": "test", "path": "/d", "value": "x"},
    ]
    assert json_patch(doc, ops) == {"a": {"b": [2, 3]}, "d": "x", "e/f": "x"}
    assert doc == {"a": {"b": [1, 2]}, "c": "x"}
    with pytest.raises(ApiError) as info:
        json_patch(doc, [{"op": "remove", "path": "/nope"}])
    assert info.value.code == 422


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=1", {"a": "1"}, True),
        ("a==1,b!=2", {"a": "1", "b": "3"}, True),
        ("a in (1, 2)", {"a": "2"}, True),
        ("a notin (1,2)", {}, True),
        ("a notin (1,2)", {"a": "1"}, False),
        ("a", {"b": "1"}, False),
        ("!a", {"b": "1"}, True),
        ("", {}, True),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert label_selector(selector)({"metadata": {"labels": labels}}) is expected


def test_bad_selectors_are_400() -> None:
    with pytest.raises(ApiError) as info:
        label_selector("a in 1")
    assert info.value.code == 400
    with pytest.raises(ApiError):
        field_selector("spec.unknown=1")


def test_match_expressions() -> None:
    selector = {
        "matchLabels": {"app": "x"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}],
    }
    assert match_labels(selector, {"app": "x", "tier": "web"})
    assert not match_labels(selector, {"app": "x", "tier": "db"})
    assert not match_labels({}, {"app": "x"})


def test_field_set_uses_list_keys_and_fields_v1() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    fields = field_set(obj)
    assert ("f:spec", "f:containers", 'k:{"name":"c"}', "f:image") in fields
    assert ("f:metadata", "f:name") not in fields
    assert to_fields_v1(fields)["f:spec"]["f:containers"]['k:{"name":"c"}'] == {
        ".": {},
        "f:image": {},
        "f:name": {},
    }
    assert (
        describe(("f:spec", "f:containers", 'k:{"name":"c"}', "f:image"))
        == '.spec.containers[name="c"].image'
    )


def test_apply_keeps_fields_another_manager_owns() -> None:
    owners = Ownership()
    first = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1", "b": "2"},
    }
    live = owners.apply(None, first, "one", force=False)
    live = owners.apply(live, {**first, "data": {"b": "2"}}, "two", force=False)
    live = owners.apply(live, {**first, "data": {"a": "1"}}, "one", force=False)
    assert live["data"] == {"a": "1", "b": "2"}  # "b" is still owned by "two"
    live = owners.apply(live, {**first, "data": {}}, "two", force=False)
    assert live["data"] == {"a": "1"}


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("*/15 * * * *", "2026-01-01T10:07", "2026-01-01T10:15"),
        ("0 3 * * *", "2026-01-01T10:07", "2026-01-02T03:00"),
        ("@hourly", "2026-01-01T10:00", "2026-01-01T11:00"),
        ("30 9 * * 1-5", "2026-01-02T10:00", "2026-01-05T09:30"),
        ("0 0 1 1 *", "2026-03-01T00:00", "2027-01-01T00:00"),
    ],
)
def test_cron_next(schedule: str, after: str, expected: str) -> None:
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    result = CronSchedule.parse(schedule).next_after(start)
    assert result == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_bad_cron_is_invalid() -> None:
    with pytest.raises(ApiError) as info:
        CronSchedule.parse("* * *")
    assert info.value.code == 422


def test_field_selector_values_may_hold_slashes() -> None:
    event = {"involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}
    assert field_selector("involvedObject.apiVersion=apps/v1,involvedObject.kind=Deployment")(event)
    assert not field_selector("involvedObject.apiVersion!=apps/v1")(event)


def test_port_lists_are_keyed_by_port_and_protocol() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}]},
    }
    path = ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}', "f:targetPort")
    assert path in field_set(svc)
    assert describe(path) == '.spec.ports[port=80,protocol="TCP"].targetPort'
    owners = Ownership()
    live = owners.apply(None, svc, "a", force=False)
    live["spec"]["ports"][0]["protocol"] = "TCP"  # as defaulting leaves it
    changed = {**svc, "spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
    with pytest.raises(ApiError) as info:
        owners.apply(live, changed, "b", force=False)
    assert info.value.details is not None
    assert (
        info.value.details["causes"][0]["field"] == '.spec.ports[port=80,protocol="TCP"].targetPort'
    )
