"""Schema validation of built-in kinds: what a real API server refuses, refused the same way.

The reference is Kubernetes 1.31 (the version the simulator reports):

* Decoding. The API server decodes a body into the Go type of its kind before anything else
  (``k8s.io/apiserver`` ``pkg/endpoints/handlers``: create.go, update.go, patch.go). A wrong
  type or a malformed quantity fails there whatever ``fieldValidation`` says; unknown fields
  follow ``fieldValidation`` ("Field validation" in the API concepts documentation,
  https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation, KEP-2885):
  ``Strict`` refuses them (400 BadRequest, ``strict decoding error: unknown field "..."``),
  ``Warn`` (the default since 1.23) drops them with a ``Warning`` header per field, ``Ignore``
  drops them silently. kubectl sends ``Strict`` unless ``--validate=warn`` or
  ``--validate=false``; ``kubectl patch``, Helm and the official dynamic client send none.
  A patched object that fails to decode is 422 Invalid on the field ``patch``; a server-side
  apply configuration goes through structured-merge-diff's typed conversion, whose failure
  the 1.31 server answers as a 500 with no reason (kubernetes/kubernetes#122480), in every
  mode.
* Validation. The checks of ``pkg/apis/core/validation`` and ``pkg/apis/apps/validation``
  (unsupported enum values, port numbers and names, non-negative counts, the restart policy
  each controller allows) are 422 Invalid with ``details.causes``.

Each test fails on the simulator as it was before it decoded bodies against the official
schemas (shipped by PyPI ``kubernetes-validate``) and validated these fields.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qengine.testing.kube import KubeSimulator

from .conftest import Kubectl, Raw

ROOT = Path(__file__).resolve().parents[2]
NS = "/api/v1/namespaces/default"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
IMAGE = "registry.k8s.io/pause:3.9"


def deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": IMAGE}]},
            },
        },
    }
    body["spec"].update(spec)
    return body


def container(body: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = body["spec"]["template"]["spec"]["containers"][0]
    return found


def stored(sim: KubeSimulator, name: str = "web") -> dict[str, Any] | None:
    return sim.get_object("deployments.apps", "default", name)


def apply(kubectl: Kubectl, body: dict[str, Any], *flags: str) -> subprocess.CompletedProcess[str]:
    return kubectl.run("apply", *flags, "-f", "-", check=False, stdin=json.dumps(body))


# -- kubectl: unknown fields and fieldValidation ------------------------------------------


def test_kubectl_apply_refuses_an_unknown_field(sim: KubeSimulator, kubectl: Kubectl) -> None:
    """``kubectl apply`` creates with ``fieldValidation=Strict``: 400, the field's path."""
    body = deployment()
    container(body)["imagePullPolicyy"] = "Always"
    proc = apply(kubectl, body)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": Deployment in version '
        '"v1" cannot be handled as a Deployment: strict decoding error: unknown field '
        '"spec.template.spec.containers[0].imagePullPolicyy"'
    )
    assert stored(sim) is None


def test_kubectl_strict_lists_every_unknown_field(kubectl: Kubectl) -> None:
    body = deployment(foo=1)
    body["metadata"]["bar"] = "x"
    proc = apply(kubectl, body)
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(
        'strict decoding error: unknown field "metadata.bar", unknown field "spec.foo"'
    )


def test_validate_warn_drops_the_field_and_warns(sim: KubeSimulator, kubectl: Kubectl) -> None:
    """``--validate=warn``: the server drops the field and answers a Warning header, which
    kubectl prints."""
    proc = apply(kubectl, deployment(foo=1), "--validate=warn")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == 'Warning: unknown field "spec.foo"'
    obj = stored(sim)
    assert obj is not None
    assert "foo" not in obj["spec"]


def test_validate_false_drops_the_field_silently(sim: KubeSimulator, kubectl: Kubectl) -> None:
    proc = apply(kubectl, deployment(foo=1), "--validate=false")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    obj = stored(sim)
    assert obj is not None
    assert "foo" not in obj["spec"]


@pytest.mark.parametrize("validate", ["--validate=strict", "--validate=false"])
def test_server_side_apply_of_an_unknown_field_fails_in_every_mode(
    sim: KubeSimulator, kubectl: Kubectl, validate: str
) -> None:
    """Server-side apply converts the configuration to its schema's type first; the 1.31
    server returns that error as a plain 500 whatever ``fieldValidation`` is."""
    proc = apply(kubectl, deployment(foo=1), "--server-side", validate)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "Error from server: failed to create typed patch object (default/web; apps/v1, "
        "Kind=Deployment): .spec.foo: field not declared in schema"
    )
    assert stored(sim) is None


def test_client_side_apply_update_decodes_the_patched_object(kubectl: Kubectl) -> None:
    """An update by ``kubectl apply`` is a strategic merge patch: the patched object is
    decoded, and its strict error is 422 on the field ``patch``, showing the patch."""
    assert apply(kubectl, deployment()).returncode == 0
    proc = apply(kubectl, deployment(bar=1))
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert err.startswith('The request is invalid: patch: Invalid value: "map[metadata:map[')
    assert err.endswith(' spec:map[bar:1]]": strict decoding error: unknown field "spec.bar"')


def test_kubectl_replace_refuses_an_unknown_field(kubectl: Kubectl) -> None:
    assert apply(kubectl, deployment()).returncode == 0
    proc = kubectl.run("replace", "-f", "-", check=False, stdin=json.dumps(deployment(qux=1)))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        'Error from server (BadRequest): error when replacing "STDIN": Deployment in version '
        '"v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.qux"'
    )


def test_kubectl_patch_warns_by_default(sim: KubeSimulator, kubectl: Kubectl) -> None:
    """``kubectl patch`` sends no ``fieldValidation``: the default, Warn, applies."""
    assert apply(kubectl, deployment()).returncode == 0
    proc = kubectl.run(
        "patch", "deployment", "web", "--type=merge", "-p", '{"spec":{"baz":1}}', check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "deployment.apps/web patched (no change)"
    assert proc.stderr.strip() == 'Warning: unknown field "spec.baz"'
    obj = stored(sim)
    assert obj is not None
    assert "baz" not in obj["spec"]


# -- kubectl: wrong types and quantities --------------------------------------------------


@pytest.mark.parametrize("validate", ["--validate=strict", "--validate=false"])
def test_a_wrong_type_is_refused_in_every_mode(kubectl: Kubectl, validate: str) -> None:
    """The issue's example: ``replicas: "two"`` (stored and shown as ``0/two`` before)."""
    proc = apply(kubectl, deployment(replicas="two"), validate)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": Deployment in version '
        '"v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct '
        "field DeploymentSpec.spec.replicas of type int32"
    )


def test_a_type_error_names_the_innermost_struct(kubectl: Kubectl) -> None:
    body = deployment()
    container(body)["env"] = [{"name": "DEBUG", "value": True}]
    proc = apply(kubectl, body)
    assert proc.stderr.strip().endswith(
        "json: cannot unmarshal bool into Go struct field "
        "EnvVar.spec.template.spec.containers.env.value of type string"
    )


@pytest.mark.parametrize(
    ("cpu", "error"),
    [
        (
            "abc",
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        ("1KK", "unable to parse quantity's suffix"),
    ],
)
def test_a_malformed_quantity_is_refused(kubectl: Kubectl, cpu: str, error: str) -> None:
    """``resource.ParseQuantity``: a number, then a known suffix or a decimal exponent."""
    body = deployment("fine")
    limits = {"cpu": 0.5, "memory": "1.5Gi", "ephemeral-storage": "1e9"}
    container(body)["resources"] = {"limits": limits, "requests": {"cpu": "250m"}}
    assert apply(kubectl, body).returncode == 0
    body = deployment()
    container(body)["resources"] = {"limits": {"cpu": cpu, "memory": "64Mi"}}
    proc = apply(kubectl, body, "--validate=false")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": Deployment in version '
        f'"v1" cannot be handled as a Deployment: {error}'
    )


def test_json_patch_to_a_wrong_type_is_invalid(kubectl: Kubectl) -> None:
    assert apply(kubectl, deployment()).returncode == 0
    patch = '[{"op":"replace","path":"/spec/replicas","value":"two"}]'
    proc = kubectl.run("patch", "deployment", "web", "--type=json", "-p", patch, check=False)
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert err.startswith('The request is invalid: patch: Invalid value: "{\\"apiVersion\\"')
    assert err.endswith(
        '": json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas '
        "of type int32"
    )


# -- kubectl: 422 Invalid -----------------------------------------------------------------


def _pod(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "main", "image": IMAGE}]},
    }
    body["spec"].update(spec)
    return body


def _job(**template_spec: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": IMAGE}]}
    spec.update(template_spec)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": spec}},
    }


def _service(spec_type: str = "ClusterIP", **port: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"type": spec_type, "selector": {"app": "web"}, "ports": [{"port": 80, **port}]},
    }


def _with_container(**fields: Any) -> dict[str, Any]:
    body = deployment()
    container(body).update(fields)
    return body


INVALID = [
    pytest.param(
        _with_container(imagePullPolicy="Sometimes"),
        'The Deployment "web" is invalid: spec.template.spec.containers[0].imagePullPolicy: '
        'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
        id="imagePullPolicy",
    ),
    pytest.param(
        _pod(restartPolicy="Sometimes"),
        'The Pod "p" is invalid: spec.restartPolicy: Unsupported value: "Sometimes": '
        'supported values: "Always", "OnFailure", "Never"',
        id="pod-restartPolicy",
    ),
    pytest.param(
        deployment(
            template={
                "metadata": {"labels": {"app": "web"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": IMAGE}]},
            }
        ),
        'The Deployment "web" is invalid: spec.template.spec.restartPolicy: Unsupported value: '
        '"Never": supported values: "Always"',
        id="deployment-restartPolicy",
    ),
    pytest.param(
        _job(),
        'The Job "j" is invalid: spec.template.spec.restartPolicy: Required value: valid '
        'values: "OnFailure", "Never"',
        id="job-restartPolicy-default",
    ),
    pytest.param(
        _job(restartPolicy="Always"),
        'The Job "j" is invalid: spec.template.spec.restartPolicy: Required value: valid '
        'values: "OnFailure", "Never"',
        id="job-restartPolicy-always",
    ),
    pytest.param(
        _service("Internal"),
        'The Service "s" is invalid: spec.type: Unsupported value: "Internal": supported '
        'values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
        id="service-type",
    ),
    pytest.param(
        _service(protocol="HTTP"),
        'The Service "s" is invalid: spec.ports[0].protocol: Unsupported value: "HTTP": '
        'supported values: "SCTP", "TCP", "UDP"',
        id="service-protocol",
    ),
    pytest.param(
        _with_container(ports=[{"containerPort": 70000}]),
        'The Deployment "web" is invalid: spec.template.spec.containers[0].ports[0]'
        ".containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        id="containerPort-range",
    ),
    pytest.param(
        _with_container(ports=[{"containerPort": 80, "protocol": "tcp"}]),
        'The Deployment "web" is invalid: spec.template.spec.containers[0].ports[0].protocol: '
        'Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
        id="containerPort-protocol",
    ),
    pytest.param(
        _with_container(ports=[{"containerPort": 80, "name": "http_port"}]),
        'The Deployment "web" is invalid: spec.template.spec.containers[0].ports[0].name: '
        'Invalid value: "http_port": must contain only alpha-numeric characters (a-z, 0-9), '
        "and hyphens (-)",
        id="port-name-charset",
    ),
    pytest.param(
        _with_container(
            ports=[{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}]
        ),
        'The Deployment "web" is invalid: spec.template.spec.containers[0].ports[1].name: '
        'Duplicate value: "web"',
        id="port-name-duplicate",
    ),
    pytest.param(
        deployment(replicas=-1),
        'The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater '
        "than or equal to 0",
        id="negative-replicas",
    ),
    pytest.param(
        _with_container(name="Main"),
        'The Deployment "web" is invalid: spec.template.spec.containers[0].name: Invalid '
        'value: "Main": a lowercase RFC 1123 label must consist of lower case alphanumeric '
        "characters or '-', and must start and end with an alphanumeric character (e.g. "
        "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        id="container-name",
    ),
]


@pytest.mark.parametrize(("body", "message"), INVALID)
def test_invalid_values_are_422(kubectl: Kubectl, body: dict[str, Any], message: str) -> None:
    proc = kubectl.run("create", "-f", "-", check=False, stdin=json.dumps(body))
    assert proc.returncode == 1
    assert proc.stderr.strip() == message


def test_several_causes_are_listed(kubectl: Kubectl) -> None:
    """A port out of range is refused twice: ``targetPort`` defaults to ``port``."""
    proc = kubectl.run("create", "-f", "-", check=False, stdin=json.dumps(_service(port=70000)))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        'The Service "s" is invalid: ',
        "* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "* spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ]


def test_server_side_apply_validates_the_merged_object(
    sim: KubeSimulator, kubectl: Kubectl
) -> None:
    assert apply(kubectl, deployment(), "--server-side").returncode == 0
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": -2},
    }
    proc = kubectl.run(
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        "-",
        check=False,
        stdin=json.dumps(patch),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(
        "spec.replicas: Invalid value: -2: must be greater than or equal to 0"
    )
    obj = stored(sim)
    assert obj is not None
    assert obj["spec"]["replicas"] == 1


# -- the official client ------------------------------------------------------------------


@pytest.fixture
def dynamic(k8s: Any) -> Any:
    from kubernetes import dynamic

    client = dynamic.DynamicClient(k8s)  # type: ignore[no-untyped-call]
    return client.resources.get(api_version="apps/v1", kind="Deployment")


def test_client_default_drops_unknown_fields(sim: KubeSimulator, dynamic: Any) -> None:
    """The dynamic client names no ``fieldValidation``: Warn, the server's default."""
    created = dynamic.create(body=deployment(foo=1), namespace="default")
    assert "foo" not in created.to_dict()["spec"]
    obj = stored(sim)
    assert obj is not None
    assert "foo" not in obj["spec"]


def test_client_wrong_type_is_bad_request(dynamic: Any) -> None:
    from kubernetes.dynamic.exceptions import BadRequestError

    with pytest.raises(BadRequestError) as caught:
        dynamic.create(body=deployment(replicas="two"), namespace="default")
    status = json.loads(caught.value.body or "{}")
    assert status["reason"] == "BadRequest"
    assert status["message"].endswith(
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of "
        "type int32"
    )


def test_client_server_side_apply_of_a_wrong_type_is_500(dynamic: Any) -> None:
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as caught:
        dynamic.server_side_apply(
            body=deployment(replicas="two"), namespace="default", field_manager="t"
        )
    assert caught.value.status == 500
    status = json.loads(caught.value.body or "{}")
    assert "reason" not in status
    assert status["message"] == (
        "failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.replicas: "
        "expected numeric (int or float), got string"
    )


def test_client_invalid_enum_is_422_with_causes(k8s: Any) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=-1,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(name="main", image=IMAGE, image_pull_policy="Sometimes")
                    ]
                ),
            ),
        ),
    )
    with pytest.raises(ApiException) as caught:
        client.AppsV1Api(k8s).create_namespaced_deployment("default", body)
    assert caught.value.status == 422
    status = json.loads(caught.value.body or "{}")
    assert status["message"] == (
        'Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: must be greater '
        "than or equal to 0, spec.template.spec.containers[0].imagePullPolicy: Unsupported "
        'value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"]'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: -1: must be greater than or equal to 0",
            "field": "spec.replicas",
        },
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Sometimes": supported values: "Always", '
            '"IfNotPresent", "Never"',
            "field": "spec.template.spec.containers[0].imagePullPolicy",
        },
    ]


# -- response shapes over HTTP ------------------------------------------------------------


def test_warning_header_per_unknown_field(raw: Raw) -> None:
    body = deployment(foo=1)
    container(body)["bar"] = 2
    status, obj, headers = raw.request("POST", DEPLOYS, body)
    assert status == 201
    assert headers["Warning"] == (
        '299 - "unknown field \\"spec.template.spec.containers[0].bar\\"", '
        '299 - "unknown field \\"spec.foo\\""'
    )
    assert "foo" not in obj["spec"]
    assert "bar" not in container(obj)


def test_ignore_drops_silently(raw: Raw) -> None:
    status, obj, headers = raw.request(
        "POST", DEPLOYS + "?fieldValidation=Ignore", deployment(foo=1)
    )
    assert status == 201
    assert "Warning" not in headers
    assert "foo" not in obj["spec"]


def test_strict_create_status(raw: Raw) -> None:
    status, body, _ = raw.request("POST", DEPLOYS + "?fieldValidation=Strict", deployment(foo=1))
    assert status == 400
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Deployment in version "v1" cannot be handled as a Deployment: strict '
        'decoding error: unknown field "spec.foo"',
        "reason": "BadRequest",
        "code": 400,
    }


def test_unknown_field_validation_directive_is_invalid(raw: Raw) -> None:
    status, body, _ = raw.request("POST", DEPLOYS + "?fieldValidation=Loose", deployment())
    assert status == 422
    assert body["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )


def test_strategic_patch_strict_status(raw: Raw) -> None:
    assert raw.request("POST", DEPLOYS, deployment())[0] == 201
    status, body, _ = raw.request(
        "PATCH",
        DEPLOYS + "/web?fieldValidation=Strict",
        {"spec": {"foo": 1}},
        content_type=STRATEGIC,
    )
    assert status == 422
    message = (
        'Invalid value: "map[spec:map[foo:1]]": strict decoding error: unknown field "spec.foo"'
    )
    assert body["message"] == f' "" is invalid: patch: {message}'
    assert body["reason"] == "Invalid"
    assert body["details"] == {
        "causes": [{"reason": "FieldValueInvalid", "message": message, "field": "patch"}]
    }


def test_merge_patch_warns_and_prunes(sim: KubeSimulator, raw: Raw) -> None:
    assert raw.request("POST", DEPLOYS, deployment())[0] == 201
    status, obj, headers = raw.request(
        "PATCH", DEPLOYS + "/web", {"spec": {"replicas": 2, "foo": 1}}, content_type=MERGE
    )
    assert status == 200
    assert headers["Warning"] == '299 - "unknown field \\"spec.foo\\""'
    assert obj["spec"]["replicas"] == 2
    assert "foo" not in obj["spec"]


def test_json_patch_of_a_bad_quantity(raw: Raw) -> None:
    assert raw.request("POST", DEPLOYS, deployment())[0] == 201
    patch = [
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/resources",
            "value": {"requests": {"memory": "lots"}},
        }
    ]
    status, body, _ = raw.request("PATCH", DEPLOYS + "/web", patch, content_type=JSON_PATCH)
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "patch"
    assert body["message"].endswith(
        "\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?"
        "[0-9]*)$'"
    )


def test_server_side_apply_bad_quantity_is_500(raw: Raw) -> None:
    body = deployment()
    container(body)["resources"] = {"limits": {"cpu": "two"}}
    status, status_body, _ = raw.request(
        "PATCH", DEPLOYS + "/web?fieldManager=t", body, content_type=APPLY
    )
    assert status == 500
    assert status_body["message"] == (
        "failed to convert new object (/web; apps/v1, Kind=Deployment) to proper version: "
        "unable to convert unstructured object to apps/v1, Kind=Deployment: quantities must "
        "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


def test_server_side_apply_lists_several_errors(raw: Raw) -> None:
    body = deployment(replicas="two", paused="yes")
    status, status_body, _ = raw.request(
        "PATCH", DEPLOYS + "/web?fieldManager=t", body, content_type=APPLY
    )
    assert status == 500
    assert status_body["message"] == (
        "failed to create typed patch object (/web; apps/v1, Kind=Deployment): errors:\n"
        "  .spec.replicas: expected numeric (int or float), got string\n"
        "  .spec.paused: expected boolean, got &{yes}"
    )


def test_a_type_error_inside_a_map_is_refused(raw: Raw) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"tier": 1}},
        "data": {"k": "v"},
    }
    status, status_body, _ = raw.request("POST", NS + "/configmaps", body)
    assert status == 400
    assert status_body["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        "number into Go struct field ObjectMeta.metadata.labels of type string"
    )


# -- Helm ---------------------------------------------------------------------------------


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    root = tmp_path / "chart"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (root / "values.yaml").write_text("replicas: 1\n")
    body = deployment("demo")
    body["spec"]["replicas"] = "REPLICAS"
    container(body)["imagePullPolicyy"] = "Always"
    text = json.dumps(body).replace('"REPLICAS"', "{{ .Values.replicas | toJson }}")
    (root / "templates" / "deployment.yaml").write_text(text)
    return root


def _helm(
    helm: Path, sim: KubeSimulator, home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    return subprocess.run(
        [str(helm), "--kubeconfig", str(sim.kubeconfig_path), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_helm_warns_about_unknown_fields_and_refuses_wrong_types(
    sim: KubeSimulator, helm: Path, chart: Path, tmp_path: Path
) -> None:
    """Helm sends no ``fieldValidation``: an unknown field is dropped with a warning, which
    client-go logs; a value of the wrong type fails the upgrade."""
    installed = _helm(helm, sim, tmp_path, "install", "demo", str(chart))
    assert installed.returncode == 0, installed.stderr
    assert 'unknown field "spec.template.spec.containers[0].imagePullPolicyy"' in installed.stderr
    obj = stored(sim, "demo")
    assert obj is not None
    assert "imagePullPolicyy" not in container(obj)
    upgraded = _helm(
        helm, sim, tmp_path, "upgrade", "demo", str(chart), "--set-string", "replicas=two"
    )
    assert upgraded.returncode == 1
    assert upgraded.stderr.strip().endswith(
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of "
        "type int32"
    )
