"""Fidelity: custom resources follow their CRD version's structural schema.

Reference: Kubernetes 1.31's apiextensions-apiserver (``pkg/apiserver/schema``: pruning,
defaulting; ``pkg/apiserver/validation``: kube-openapi's validator and how its errors become
``details.causes``) and the API documentation "Extend the Kubernetes API with
CustomResourceDefinitions" (validation, defaulting, pruning, ``x-kubernetes-*`` extensions,
validation ratcheting). Custom resources have no Go type, so no patch strategy: a strategic
merge patch is answered ``415 UnsupportedMediaType``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qengine.testing.kube import KubeSimulator

from .conftest import Kubectl, Raw, get

ROOT = Path(__file__).resolve().parents[2]
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
MERGE = "application/merge-patch+json"
APPLY = "application/apply-patch+yaml"


def schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "color": {"type": "string", "enum": ["red", "green"], "default": "red"},
                    "name": {
                        "type": "string",
                        "pattern": "^[a-z]+$",
                        "minLength": 2,
                        "maxLength": 8,
                    },
                    "port": {"x-kubernetes-int-or-string": True},
                    "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "resources": {
                        "type": "object",
                        "default": {},
                        "properties": {"replicas": {"type": "integer", "default": 3}},
                    },
                    "template": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": True,
                        "x-kubernetes-preserve-unknown-fields": True,
                    },
                },
            },
            "status": {
                "type": "object",
                "properties": {"phase": {"type": "string", "enum": ["Ready", "Failed"]}},
            },
        },
    }


def crd(version_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": version_schema or schema()},
                    "subresources": {"status": {}},
                }
            ],
        },
    }


def widget(name: str = "w1", /, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
def widgets(raw: Raw) -> Raw:
    """``raw``, with the Widget CRD created."""
    status, body, _ = raw.request("POST", CRDS, crd())
    assert status == 201, body
    return raw


def invalid(raw: Raw, body: dict[str, Any], path: str = WIDGETS, method: str = "POST") -> Any:
    status, answer, _ = raw.request(method, path, body)
    assert status == 422, answer
    assert answer["reason"] == "Invalid", answer
    assert answer["details"]["kind"] == "Widget", answer
    assert answer["details"]["group"] == "example.com", answer
    return answer


# -- validation ------------------------------------------------------------------------------


def test_required_field_missing_is_422_with_the_real_cause(widgets: Raw) -> None:
    """``required`` becomes ``field.Required``: ``spec.size: Required value``."""
    answer = invalid(widgets, widget())
    assert answer["message"] == 'Widget.example.com "w1" is invalid: spec.size: Required value'
    assert answer["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.size"}
    ]


@pytest.mark.parametrize(
    ("spec", "reason", "field", "message"),
    [
        (
            {"size": "two"},
            "FieldValueTypeInvalid",
            "spec.size",
            'Invalid value: "string": spec.size in body must be of type integer: "string"',
        ),
        (
            {"size": 11},
            "FieldValueInvalid",
            "spec.size",
            "Invalid value: 11: spec.size in body should be less than or equal to 10",
        ),
        (
            {"size": 0},
            "FieldValueInvalid",
            "spec.size",
            "Invalid value: 0: spec.size in body should be greater than or equal to 1",
        ),
        (
            {"size": 1, "color": "blue"},
            "FieldValueNotSupported",
            "spec.color",
            'Unsupported value: "blue": supported values: "red", "green"',
        ),
        (
            {"size": 1, "name": "ABC"},
            "FieldValueInvalid",
            "spec.name",
            "Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'",
        ),
        (
            {"size": 1, "name": "a"},
            "FieldValueInvalid",
            "spec.name",
            'Invalid value: "a": spec.name in body should be at least 2 chars long',
        ),
        (
            {"size": 1, "name": "abcdefghij"},
            "FieldValueTooLong",
            "spec.name",
            "Too long: may not be longer than 8",
        ),
        (
            {"size": 1, "tags": ["a", "b", "c"]},
            "FieldValueTooMany",
            "spec.tags",
            "Too many: 3: must have at most 2 items",
        ),
        (
            {"size": 1, "port": True},
            "FieldValueTypeInvalid",
            "spec.port",
            'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
        ),
        (
            {"size": 1, "template": {"kind": "Pod"}},
            "FieldValueRequired",
            "spec.template.apiVersion",
            "Required value: must not be empty",
        ),
    ],
    ids=[
        "type",
        "maximum",
        "minimum",
        "enum",
        "pattern",
        "minLength",
        "maxLength",
        "maxItems",
        "int-or-string",
        "embedded-resource",
    ],
)
def test_schema_violations_are_worded_as_the_real_server_words_them(
    widgets: Raw, spec: dict[str, Any], reason: str, field: str, message: str
) -> None:
    """kube-openapi's messages (``<path> in body should ...``) inside the field errors the
    server makes of them (``Invalid value``, ``Unsupported value``, ``Too long``, ``Too
    many``), at the value's field path."""
    answer = invalid(widgets, widget(**spec))
    assert answer["details"]["causes"] == [{"reason": reason, "message": message, "field": field}]
    assert answer["message"] == f'Widget.example.com "w1" is invalid: {field}: {message}'


def test_several_violations_are_all_reported(widgets: Raw) -> None:
    """Every failure is a cause; the message joins them in brackets, as Kubernetes prints an
    aggregate of field errors (their order follows Go map iteration on a real server)."""
    answer = invalid(widgets, widget(size=0, color="blue"))
    causes = {(c["field"], c["message"]) for c in answer["details"]["causes"]}
    assert causes == {
        ("spec.size", "Invalid value: 0: spec.size in body should be greater than or equal to 1"),
        ("spec.color", 'Unsupported value: "blue": supported values: "red", "green"'),
    }
    message = answer["message"]
    assert message.startswith('Widget.example.com "w1" is invalid: [')
    assert message.endswith("]")


def test_valid_values_of_every_kind_are_accepted(widgets: Raw) -> None:
    """int-or-string takes an integer or a string (not a fraction); preserve-unknown-fields
    keeps any content; an embedded resource with apiVersion and kind passes."""
    body = widget(
        size=10,
        color="green",
        name="abc",
        port="http",
        tags=["a"],
        extra={"anything": {"goes": [1, 2]}},
        template={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"a": 1}},
    )
    status, created, _ = widgets.request("POST", WIDGETS, body)
    assert status == 201, created
    assert created["spec"]["extra"] == {"anything": {"goes": [1, 2]}}
    assert created["spec"]["template"]["spec"] == {"a": 1}
    status, created, _ = widgets.request("POST", WIDGETS, widget("w2", size=1, port=8080))
    assert status == 201, created
    answer = invalid(widgets, widget("w3", size=1, port=1.5))
    assert answer["details"]["causes"][0]["message"] == (
        'Invalid value: "number": spec.port in body must be of type integer,string: "number"'
    )


def test_official_client_create_gets_the_invalid_status(k8s: Any, widgets: Raw) -> None:
    """CustomObjectsApi raises ApiException 422 carrying the Status."""
    from kubernetes import client

    api = client.CustomObjectsApi(k8s)
    with pytest.raises(client.ApiException) as caught:
        api.create_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", widget(size=99)
        )
    assert caught.value.status == 422
    cause = json.loads(caught.value.body)["details"]["causes"][0]
    assert cause["field"] == "spec.size"


def test_status_subresource_validates_the_status_schema(widgets: Raw) -> None:
    """A ``/status`` write is validated against the ``status`` schema (field paths under
    ``status``)."""
    status, created, _ = widgets.request("POST", WIDGETS, widget(size=1))
    assert status == 201
    created["status"] = {"phase": "Unknown"}
    answer = invalid(widgets, created, WIDGETS + "/w1/status", "PUT")
    assert answer["details"]["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Unknown": supported values: "Ready", "Failed"',
            "field": "status.phase",
        }
    ]


# -- defaulting ------------------------------------------------------------------------------


def test_defaults_are_applied_on_create_and_update(widgets: Raw, sim: KubeSimulator) -> None:
    """``default`` fills in absent fields, nested ones too (``resources`` defaults to ``{}``,
    then its ``replicas`` to 3); a field set to another value keeps it."""
    status, created, _ = widgets.request("POST", WIDGETS, widget(size=2))
    assert status == 201, created
    assert created["spec"] == {"size": 2, "color": "red", "resources": {"replicas": 3}}
    assert get(sim, "widgets.example.com", "default", "w1")["spec"]["color"] == "red"
    status, patched, _ = widgets.request(
        "PATCH",
        WIDGETS + "/w1",
        {"spec": {"color": None, "resources": {"replicas": 5}}},
        content_type=MERGE,
    )
    assert status == 200, patched
    assert patched["spec"]["color"] == "red"
    assert patched["spec"]["resources"] == {"replicas": 5}


def test_defaults_added_to_the_crd_show_on_read_without_a_write(widgets: Raw) -> None:
    """The server defaults objects as it reads them from storage: a default added to the
    CRD appears on the next read of an existing object, whose resourceVersion is unchanged
    (nothing was written)."""
    status, created, _ = widgets.request("POST", WIDGETS, widget(size=2))
    assert status == 201
    before = created["metadata"]["resourceVersion"]
    changed = schema()
    changed["properties"]["spec"]["properties"]["size"]["maximum"] = 100
    changed["properties"]["spec"]["properties"]["label"] = {"type": "string", "default": "new"}
    current = widgets.get(CRDS + "/widgets.example.com")
    current["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = changed
    status, body, _ = widgets.request("PUT", CRDS + "/widgets.example.com", current)
    assert status == 200, body
    read = widgets.get(WIDGETS + "/w1")
    assert read["spec"]["label"] == "new"
    assert read["metadata"]["resourceVersion"] == before
    # The new schema is in force at once (the compiled schema is not stale).
    status, body, _ = widgets.request("POST", WIDGETS, widget("w2", size=50))
    assert status == 201, body


def test_helm_chart_with_a_crd_and_a_custom_resource(
    sim: KubeSimulator, tmp_path: Path, helm: Path
) -> None:
    """Real Helm 3.17: the chart's ``crds/`` are created first, then the custom resource,
    which the server defaults (and prunes: Helm sends no fieldValidation, so Warn); an
    upgrade to a value the schema refuses fails with the server's message."""
    chart = tmp_path / "chart"
    (chart / "crds").mkdir(parents=True)
    (chart / "templates").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: widgets\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("size: 2\n")
    (chart / "crds" / "widgets.json").write_text(json.dumps(crd()))
    template = widget(size="SIZE", unknown="dropped")
    text = json.dumps(template).replace('"SIZE"', "{{ .Values.size }}")
    (chart / "templates" / "widget.json").write_text(text)

    run_helm = _helm(helm, sim, tmp_path)
    run_helm("install", "demo", str(chart), "--namespace", "default")
    stored = get(sim, "widgets.example.com", "default", "w1")
    assert stored["spec"] == {"size": 2, "color": "red", "resources": {"replicas": 3}}
    proc = run_helm("upgrade", "demo", str(chart), "--set", "size=50", check=False)
    assert proc.returncode != 0
    assert "spec.size: Invalid value: 50: spec.size in body should be less than or equal to 10" in (
        proc.stderr
    ), proc.stderr


def _helm(binary: Path, sim: KubeSimulator, tmp_path: Path) -> Any:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "KUBECONFIG": str(sim.kubeconfig_path),
        "HELM_CACHE_HOME": str(tmp_path / "helm-cache"),
        "HELM_CONFIG_HOME": str(tmp_path / "helm-config"),
        "HELM_DATA_HOME": str(tmp_path / "helm-data"),
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(binary), *args], capture_output=True, text=True, env=env, timeout=120
        )
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    return run


# -- pruning and field validation ------------------------------------------------------------


def test_unknown_fields_are_pruned_and_reported_as_field_validation_asks(
    widgets: Raw, sim: KubeSimulator
) -> None:
    """Warn (the default when a request names no directive) drops the field and answers a
    ``Warning`` header; Ignore drops it silently; Strict refuses the create with 400 (the
    create handler's ``cannot be handled as`` wording). preserve-unknown-fields subtrees
    keep theirs."""
    body = widget(size=2, foo=1, extra={"kept": True})
    status, created, headers = widgets.request("POST", WIDGETS, body)
    assert status == 201, created
    assert "foo" not in created["spec"]
    assert created["spec"]["extra"] == {"kept": True}
    assert headers.get("Warning") == '299 - "unknown field \\"spec.foo\\""'
    status, created, headers = widgets.request(
        "POST", WIDGETS + "?fieldValidation=Ignore", widget("w2", size=2, foo=1)
    )
    assert status == 201
    assert "foo" not in created["spec"]
    assert "Warning" not in headers
    status, answer, _ = widgets.request(
        "POST", WIDGETS + "?fieldValidation=Strict", widget("w3", size=2, foo=1, bar=2)
    )
    assert status == 400
    assert answer["reason"] == "BadRequest"
    assert answer["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.bar", unknown field "spec.foo"'
    )
    assert sim.get_object("widgets.example.com", "default", "w3") is None


def test_kubectl_apply_validates_strictly_and_server_side_apply_refuses_undeclared_fields(
    widgets: Raw, kubectl: Kubectl, tmp_path: Path
) -> None:
    """kubectl apply asks for Strict field validation: an unknown field is an error. A
    server-side apply configuration is converted to the schema's type first, which refuses
    an undeclared field whatever the directive (a 500 without reason, as on a cluster)."""
    manifest = tmp_path / "w.json"
    manifest.write_text(json.dumps(dict(widget(size=2, typo=1), metadata={"name": "w1"})))
    proc = kubectl.run("apply", "-f", str(manifest), check=False)
    assert proc.returncode != 0
    assert 'strict decoding error: unknown field "spec.typo"' in proc.stderr, proc.stderr
    proc = kubectl.run("apply", "--server-side", "-f", str(manifest), check=False)
    assert proc.returncode != 0
    assert ".spec.typo: field not declared in schema" in proc.stderr, proc.stderr
    status, answer, _ = widgets.request(
        "PATCH",
        WIDGETS + "/w1?fieldManager=me&fieldValidation=Ignore",
        widget(size=2, typo=1),
        content_type=APPLY,
    )
    assert status == 500
    assert "reason" not in answer
    assert answer["message"] == (
        "failed to create typed patch object (/w1; example.com/v1, Kind=Widget): "
        ".spec.typo: field not declared in schema"
    )
    manifest.write_text(json.dumps(widget(size=2)))
    kubectl.run("apply", "--server-side", "-f", str(manifest))
    assert kubectl.json("get", "widget", "w1")["spec"]["color"] == "red"


def test_strategic_merge_patch_on_a_custom_resource_is_415(widgets: Raw, kubectl: Kubectl) -> None:
    """Custom resources accept JSON patch, merge patch and apply only: ``kubectl patch``
    (strategic by default) fails as on a cluster; ``--type merge`` works."""
    status, _, _ = widgets.request("POST", WIDGETS, widget(size=2))
    assert status == 201
    status, answer, _ = widgets.request(
        "PATCH",
        WIDGETS + "/w1",
        {"spec": {"size": 3}},
        content_type="application/strategic-merge-patch+json",
    )
    assert status == 415
    assert answer["reason"] == "UnsupportedMediaType"
    assert answer["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    proc = kubectl.run("patch", "widget", "w1", "-p", '{"spec":{"size":3}}', check=False)
    assert proc.returncode != 0
    assert "application/strategic-merge-patch+json is not supported" in proc.stderr, proc.stderr
    kubectl.run("patch", "widget", "w1", "--type", "merge", "-p", '{"spec":{"size":3}}')
    assert widgets.get(WIDGETS + "/w1")["spec"]["size"] == 3


# -- updates ---------------------------------------------------------------------------------


def test_update_to_an_invalid_value_is_refused_by_every_write(widgets: Raw) -> None:
    """PUT, merge patch and JSON patch: the updated object is validated."""
    status, created, _ = widgets.request("POST", WIDGETS, widget(size=2))
    assert status == 201
    created["spec"]["size"] = 20
    invalid(widgets, created, WIDGETS + "/w1", "PUT")
    for content_type, patch in (
        (MERGE, {"spec": {"size": 20}}),
        ("application/json-patch+json", [{"op": "replace", "path": "/spec/size", "value": 20}]),
    ):
        status, answer, _ = widgets.request(
            "PATCH", WIDGETS + "/w1", patch, content_type=content_type
        )
        assert status == 422, answer
        assert answer["details"]["causes"][0]["field"] == "spec.size"


def test_validation_ratchets_values_an_update_leaves_unchanged(widgets: Raw) -> None:
    """CRDValidationRatcheting (beta, on in 1.31): after the schema tightens, an object that
    no longer fits may still be updated elsewhere; changing the offending value to another
    invalid one is refused."""
    status, _, _ = widgets.request("POST", WIDGETS, widget(size=8))
    assert status == 201
    tighter = schema()
    tighter["properties"]["spec"]["properties"]["size"]["maximum"] = 5
    current = widgets.get(CRDS + "/widgets.example.com")
    current["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = tighter
    status, body, _ = widgets.request("PUT", CRDS + "/widgets.example.com", current)
    assert status == 200, body
    status, body, _ = widgets.request(
        "PATCH", WIDGETS + "/w1", {"spec": {"name": "ok"}}, content_type=MERGE
    )
    assert status == 200, body
    status, body, _ = widgets.request(
        "PATCH", WIDGETS + "/w1", {"spec": {"size": 9}}, content_type=MERGE
    )
    assert status == 422, body
    assert body["details"]["causes"][0]["message"] == (
        "Invalid value: 9: spec.size in body should be less than or equal to 5"
    )
