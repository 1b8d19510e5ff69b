"""API semantics of the simulator over HTTP, with golden shapes from the API conventions."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from qengine.testing.kube import KubeSimulator

from .conftest import Raw, get

CM = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def configmap(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }


def deployment(name: str, image: str = "nginx:1.25", replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "main", "image": image, "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


def test_create_assigns_uid_version_timestamp_and_managed_fields(raw: Raw) -> None:
    status, obj, _ = raw.request("POST", CM, configmap("a"))
    assert status == 201
    meta = obj["metadata"]
    assert len(meta["uid"]) == 36
    assert meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    assert meta["managedFields"][0]["operation"] == "Update"
    assert meta["managedFields"][0]["fieldsV1"] == {
        "f:data": {"f:k": {}},
        "f:metadata": {"f:labels": {}},
    }


def test_resource_versions_are_global_and_monotonic(raw: Raw) -> None:
    versions = []
    for name in ("a", "b", "c"):
        _, obj, _ = raw.request("POST", CM, configmap(name))
        versions.append(int(obj["metadata"]["resourceVersion"]))
    _, obj, _ = raw.request("POST", DEPLOYS, deployment("d"))
    versions.append(int(obj["metadata"]["resourceVersion"]))
    assert versions == sorted(versions)
    assert len(set(versions)) == 4


def test_already_exists_is_409_with_details(raw: Raw) -> None:
    raw.request("POST", CM, configmap("a"))
    status, body, _ = raw.request("POST", CM, configmap("a"))
    assert status == 409
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "a" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "a", "kind": "configmaps"},
        "code": 409,
    }


def test_not_found_names_the_group(raw: Raw) -> None:
    status, body, _ = raw.request("GET", DEPLOYS + "/missing")
    assert status == 404
    assert body["message"] == 'deployments.apps "missing" not found'
    assert body["details"] == {"name": "missing", "group": "apps", "kind": "deployments"}


def test_stale_resource_version_update_conflicts(raw: Raw) -> None:
    _, obj, _ = raw.request("POST", CM, configmap("a"))
    obj["data"] = {"k": "v2"}
    status, updated, _ = raw.request("PUT", CM + "/a", obj)
    assert status == 200
    assert int(updated["metadata"]["resourceVersion"]) > int(obj["metadata"]["resourceVersion"])
    obj["data"] = {"k": "v3"}
    status, body, _ = raw.request("PUT", CM + "/a", obj)
    assert status == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


@pytest.mark.parametrize(
    ("name", "field"),
    [("Upper_Case", "metadata.name"), ("", "metadata.name"), ("-leading", "metadata.name")],
)
def test_invalid_names_are_422_with_causes(raw: Raw, name: str, field: str) -> None:
    status, body, _ = raw.request("POST", CM, configmap(name))
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == field
    assert body["details"]["kind"] == "ConfigMap"


def test_deployment_missing_containers_is_invalid(raw: Raw) -> None:
    bad = deployment("d")
    bad["spec"]["template"]["spec"]["containers"] = []
    status, body, _ = raw.request("POST", DEPLOYS, bad)
    assert status == 422
    assert body["message"].startswith(
        'Deployment.apps "d" is invalid: spec.template.spec.containers'
    )


def test_generation_moves_only_on_spec_changes(sim: KubeSimulator, raw: Raw) -> None:
    _, obj, _ = raw.request("POST", DEPLOYS, deployment("d"))
    assert obj["metadata"]["generation"] == 1
    status, obj, _ = raw.request(
        "PATCH",
        DEPLOYS + "/d",
        {"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    )
    assert status == 200
    assert obj["metadata"]["generation"] == 1
    _, obj, _ = raw.request(
        "PATCH",
        DEPLOYS + "/d",
        {"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
    )
    assert obj["metadata"]["generation"] == 2


def test_label_selectors(raw: Raw) -> None:
    raw.request("POST", CM, configmap("a", tier="web", env="prod"))
    raw.request("POST", CM, configmap("b", tier="db", env="prod"))
    raw.request("POST", CM, configmap("c", tier="web"))

    def names(selector: str) -> list[str]:
        query = "?labelSelector=" + selector.replace(" ", "+").replace("!", "%21")
        return [i["metadata"]["name"] for i in raw.get(CM + query)["items"]]

    assert names("tier=web") == ["a", "c"]
    assert names("tier==web,env=prod") == ["a"]
    assert names("tier!=web") == ["b", "kube-root-ca.crt"] or names("tier!=web") == ["b"]
    assert names("tier in (db,cache)") == ["b"]
    assert names("tier notin (web),env") == ["b"]
    assert names("env") == ["a", "b"]
    assert names("!env,tier") == ["c"]


def test_field_selectors(raw: Raw) -> None:
    raw.request("POST", CM, configmap("a"))
    raw.request("POST", CM, configmap("b"))
    items = raw.get("/api/v1/configmaps?fieldSelector=metadata.name%3Da")["items"]
    assert [i["metadata"]["name"] for i in items] == ["a"]
    items = raw.get(
        "/api/v1/configmaps?fieldSelector=metadata.namespace%3Ddefault,metadata.name!%3Da"
    )["items"]
    assert "a" not in [i["metadata"]["name"] for i in items]
    status, _, _ = raw.request("GET", CM + "?fieldSelector=spec.bogus%3D1")
    assert status == 400


def test_pagination_with_limit_and_continue(raw: Raw) -> None:
    for index in range(7):
        raw.request("POST", CM, configmap(f"page-{index}", page="yes"))
    seen, token = [], ""
    while True:
        page = raw.get(CM + f"?labelSelector=page%3Dyes&limit=3&continue={token}")
        seen += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue", "")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] > 0
    assert seen == [f"page-{i}" for i in range(7)]


def test_json_merge_and_strategic_patches(raw: Raw) -> None:
    raw.request("POST", DEPLOYS, deployment("d"))
    env_patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "main", "env": [{"name": "A", "value": "1"}]}]}
            }
        }
    }
    status, obj, _ = raw.request(
        "PATCH", DEPLOYS + "/d", env_patch, content_type="application/strategic-merge-patch+json"
    )
    assert status == 200
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.25"  # merged by name, not replaced
    assert container["env"] == [{"name": "A", "value": "1"}]
    sidecar = {
        "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox:1"}]}}}
    }
    _, obj, _ = raw.request(
        "PATCH", DEPLOYS + "/d", sidecar, content_type="application/strategic-merge-patch+json"
    )
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["main", "side"]
    _, obj, _ = raw.request(
        "PATCH", DEPLOYS + "/d", sidecar, content_type="application/merge-patch+json"
    )
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["side"]
    ops = [
        {"op": "replace", "path": "/spec/replicas", "value": 4},
        {"op": "add", "path": "/metadata/labels", "value": {"j": "p"}},
    ]
    _, obj, _ = raw.request(
        "PATCH", DEPLOYS + "/d", ops, content_type="application/json-patch+json"
    )
    assert obj["spec"]["replicas"] == 4
    assert obj["metadata"]["labels"] == {"j": "p"}
    status, _, _ = raw.request(
        "PATCH",
        DEPLOYS + "/d",
        [{"op": "test", "path": "/spec/replicas", "value": 9}],
        content_type="application/json-patch+json",
    )
    assert status == 422


def apply(raw: Raw, path: str, body: Any, manager: str, force: bool = False) -> tuple[int, Any]:
    query = f"?fieldManager={manager}" + ("&force=true" if force else "")
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, obj, _ = raw.request(
        "PATCH", path + query, payload, content_type="application/apply-patch+yaml"
    )
    return status, obj


def test_server_side_apply_ownership_conflict_and_force(raw: Raw) -> None:
    status, obj = apply(raw, DEPLOYS + "/d", deployment("d", replicas=2), "alice")
    assert status == 201
    managers = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert managers["alice"]["operation"] == "Apply"
    assert "f:replicas" in managers["alice"]["fieldsV1"]["f:spec"]
    containers = managers["alice"]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert 'k:{"name":"main"}' in containers
    status, body = apply(raw, DEPLOYS + "/d", deployment("d", replicas=5), "bob")
    assert status == 409
    assert body["reason"] == "Conflict"
    assert (
        body["message"]
        == 'Apply failed with 1 conflict: conflict with "alice" using apps/v1: .spec.replicas'
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "alice" using apps/v1',
            "field": ".spec.replicas",
        }
    ]
    status, obj = apply(raw, DEPLOYS + "/d", deployment("d", replicas=5), "bob", force=True)
    assert status == 200
    assert obj["spec"]["replicas"] == 5
    managers = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert "f:replicas" not in managers["alice"]["fieldsV1"]["f:spec"]


def test_same_value_is_shared_without_conflict_and_noop_apply_keeps_version(raw: Raw) -> None:
    apply(raw, CM + "/s", configmap("s"), "alice")
    status, shared = apply(raw, CM + "/s", configmap("s"), "bob")
    assert status == 200
    assert {m["manager"] for m in shared["metadata"]["managedFields"]} == {"alice", "bob"}
    again_status, again = apply(raw, CM + "/s", configmap("s"), "bob")
    assert again_status == 200
    assert again["metadata"]["resourceVersion"] == shared["metadata"]["resourceVersion"]


def test_apply_accepts_yaml_and_removes_fields_it_no_longer_applies(raw: Raw) -> None:
    yaml_body = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  a: '1'\n  b: '2'\n"
    )
    status, obj = apply(raw, CM + "/y", yaml_body, "tool")
    assert status == 201
    assert obj["data"] == {"a": "1", "b": "2"}
    _, obj = apply(
        raw,
        CM + "/y",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  a: '1'\n",
        "tool",
    )
    assert obj["data"] == {"a": "1"}


def test_apply_without_field_manager_is_rejected(raw: Raw) -> None:
    status, body, _ = raw.request(
        "PATCH", CM + "/z", configmap("z"), content_type="application/apply-patch+yaml"
    )
    assert status == 422
    assert "fieldManager" in body["message"]


def test_dry_run_changes_nothing(sim: KubeSimulator, raw: Raw) -> None:
    status, obj, _ = raw.request("POST", CM + "?dryRun=All", configmap("dry"))
    assert status == 201
    assert obj["metadata"]["name"] == "dry"
    assert sim.get_object("configmaps", "default", "dry") is None
    status, _, _ = raw.request("POST", CM + "?dryRun=Some", configmap("dry"))
    assert status == 400


def test_status_subresource_is_separate_from_the_main_resource(raw: Raw) -> None:
    svcs = "/api/v1/namespaces/default/services"
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}]},
    }
    _, obj, _ = raw.request("POST", svcs, svc)
    assert obj["spec"]["clusterIP"].startswith("10.96.")
    assert obj["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    lb = {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}
    forged = dict(obj, status=lb, metadata=dict(obj["metadata"], labels={"a": "b"}))
    _, updated, _ = raw.request("PUT", svcs + "/s", forged)
    assert updated["metadata"]["labels"] == {"a": "b"}
    assert updated["status"] == {"loadBalancer": {}}
    forged = dict(updated, status=lb, metadata=dict(updated["metadata"], labels={"c": "d"}))
    _, updated, _ = raw.request("PUT", svcs + "/s/status", forged)
    assert updated["status"] == lb
    assert updated["metadata"]["labels"] == {"a": "b"}


def test_scale_subresource(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", DEPLOYS, deployment("d", replicas=1))
    scale = raw.get(DEPLOYS + "/d/scale")
    assert scale["kind"] == "Scale"
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 1}
    assert scale["status"]["selector"] == "app=d"
    status, scale, _ = raw.request(
        "PATCH",
        DEPLOYS + "/d/scale",
        {"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
    )
    assert status == 200
    assert scale["spec"]["replicas"] == 3
    assert get(sim, "deployments.apps", "default", "d")["spec"]["replicas"] == 3


def test_finalizers_hold_deletion_until_removed(sim: KubeSimulator, raw: Raw) -> None:
    body = configmap("held")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    raw.request("POST", CM, body)
    status, obj, _ = raw.request("DELETE", CM + "/held")
    assert status == 200
    assert obj["metadata"]["deletionTimestamp"]
    held = get(sim, "configmaps", "default", "held")
    assert held is not None
    assert held["metadata"]["deletionTimestamp"]
    ops = [{"op": "remove", "path": "/metadata/finalizers"}]
    raw.request("PATCH", CM + "/held", ops, content_type="application/json-patch+json")
    assert sim.get_object("configmaps", "default", "held") is None


def _owned_cm(owner: dict[str, Any], name: str) -> dict[str, Any]:
    body = configmap(name)
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    body["metadata"]["ownerReferences"] = [ref]
    return body


@pytest.mark.parametrize(
    ("policy", "survives"), [("Background", False), ("Foreground", False), ("Orphan", True)]
)
def test_propagation_policies(sim: KubeSimulator, raw: Raw, policy: str, survives: bool) -> None:
    _, owner, _ = raw.request("POST", CM, configmap("owner"))
    raw.request("POST", CM, _owned_cm(owner, "child"))
    status, _, _ = raw.request(
        "DELETE",
        CM + "/owner",
        {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy},
    )
    assert status == 200

    def settled() -> bool:  # the garbage collector acts after the DELETE returned
        child = sim.get_object("configmaps", "default", "child")
        orphaned = child is None or "ownerReferences" not in child["metadata"]
        gone = sim.get_object("configmaps", "default", "owner") is None
        return gone and (child is not None) == survives and orphaned

    deadline = time.monotonic() + 10
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert settled()


def test_deleting_a_namespace_terminates_it_and_its_objects(sim: KubeSimulator, raw: Raw) -> None:
    raw.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}},
    )
    raw.request("POST", "/api/v1/namespaces/gone/configmaps", configmap("x"))
    status, ns, _ = raw.request("DELETE", "/api/v1/namespaces/gone")
    assert status == 200
    assert ns["status"]["phase"] == "Terminating"
    status, _, _ = raw.request("POST", "/api/v1/namespaces/gone/configmaps", configmap("y"))
    assert status in (403, 404)
    deadline = time.monotonic() + 10
    while sim.get_object("namespaces", "", "gone") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim.get_object("namespaces", "", "gone") is None
    assert sim.objects("configmaps", "gone") == []


def test_create_in_missing_namespace_is_404(raw: Raw) -> None:
    status, body, _ = raw.request("POST", "/api/v1/namespaces/nowhere/configmaps", configmap("x"))
    assert status == 404
    assert body["message"] == 'namespaces "nowhere" not found'


def test_deletecollection_by_label(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", CM, configmap("a", group="x"))
    raw.request("POST", CM, configmap("b", group="x"))
    raw.request("POST", CM, configmap("c", group="y"))
    status, body, _ = raw.request("DELETE", CM + "?labelSelector=group%3Dx")
    assert status == 200
    assert body["status"] == "Success"
    names = [o["metadata"]["name"] for o in sim.objects("configmaps", "default")]
    assert "c" in names
    assert "a" not in names
    assert "b" not in names


def test_custom_resources_of_a_registered_crd(raw: Raw) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wg"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                    "subresources": {"status": {}},
                }
            ],
        },
    }
    status, _, _ = raw.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
    )
    assert status == 201
    stored = raw.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    assert {c["type"] for c in stored["status"]["conditions"]} == {"Established", "NamesAccepted"}
    widgets = "/apis/example.com/v1/namespaces/default/widgets"
    status, widget, _ = raw.request(
        "POST",
        widgets,
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 3},
        },
    )
    assert status == 201
    assert widget["metadata"]["generation"] == 1
    resources = {r["name"]: r for r in raw.get("/apis/example.com/v1")["resources"]}
    assert resources["widgets"]["shortNames"] == ["wg"]
    raw.request(
        "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
    )
    status, _, _ = raw.request("GET", widgets)
    assert status == 404


def test_secret_string_data_is_folded_into_data(raw: Raw) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"password": "hunter2"},
    }
    status, obj, _ = raw.request("POST", "/api/v1/namespaces/default/secrets", secret)
    assert status == 201
    assert obj["data"] == {"password": "aHVudGVyMg=="}
    assert "stringData" not in obj
    assert obj["type"] == "Opaque"


def test_node_ports_are_allocated_and_kept(raw: Raw) -> None:
    svcs = "/api/v1/namespaces/default/services"
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "np"},
        "spec": {"type": "NodePort", "ports": [{"port": 80}]},
    }
    _, created, _ = raw.request("POST", svcs, svc)
    node_port = created["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    status, applied = apply(raw, svcs + "/np", svc, "tool")
    assert status == 200
    assert applied["spec"]["ports"][0]["nodePort"] == node_port
    assert applied["spec"]["clusterIP"] == created["spec"]["clusterIP"]


def test_system_namespaces_may_not_be_deleted(raw: Raw) -> None:
    status, body, _ = raw.request("DELETE", "/api/v1/namespaces/default")
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == 'namespaces "default" is forbidden: this namespace may not be deleted'


def test_dry_run_delete_keeps_the_object(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", CM, configmap("keep"))
    status, _, _ = raw.request(
        "DELETE", CM + "/keep", {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]}
    )
    assert status == 200
    status, _, _ = raw.request("DELETE", CM + "/keep?dryRun=All")
    assert status == 200
    assert sim.get_object("configmaps", "default", "keep") is not None
