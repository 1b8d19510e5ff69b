"""JSON nulls in valid objects and patches: accepted as absent, as a real API server has it.

The API server decodes a request into the API's Go types, where a JSON ``null`` is the
field's zero value: an absent field, which defaulting then fills ("API Conventions",
github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/
api-conventions.md, optional fields; Go's ``encoding/json``: "The JSON null value
unmarshals into an interface, map, pointer, or slice by setting that Go value to nil";
inside a map of strings it is the empty string). Helm charts render
``spec.template.metadata: null`` when a template block yields nothing, and real clusters
install them. In patches, ``null`` keeps its own meaning: a merge or strategic merge patch
deletes the field (RFC 7386), and a JSON patch that sets a field to ``null`` leaves it
absent once decoded.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from qengine.testing.kube import KubeSimulator

from .conftest import Kubectl, Raw, get

ROOT = Path(__file__).resolve().parents[2]
NS = "/api/v1/namespaces/default"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
JOBS = "/apis/batch/v1/namespaces/default/jobs"
APPLY = "application/apply-patch+yaml"


def job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": None, "annotations": None},
        "spec": {
            "backoffLimit": None,
            "template": {
                "metadata": None,
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "run", "image": "busybox:1", "command": None, "env": None}
                    ],
                    "volumes": None,
                },
            },
        },
    }


def deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": None},
        "spec": {
            "replicas": None,
            "strategy": None,
            "selector": {"matchLabels": {"app": name}, "matchExpressions": None},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": None},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "nginx:1.25",
                            "ports": None,
                            "env": None,
                            "resources": None,
                            "securityContext": None,
                        }
                    ],
                    "volumes": None,
                    "nodeSelector": None,
                },
            },
        },
    }


def has_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(has_null(v) for k, v in value.items() if k != "lastProbeTime")
    if isinstance(value, list):
        return any(has_null(v) for v in value)
    return False


def stored_spec(sim: KubeSimulator, resource: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = get(sim, resource, "default", name)["spec"]
    return spec


def test_a_job_whose_template_metadata_is_null_is_created(sim: KubeSimulator, raw: Raw) -> None:
    status, body, _ = raw.request("POST", JOBS, job("nulls"))
    assert status == 201, body
    spec = stored_spec(sim, "jobs.batch", "nulls")
    assert not has_null(spec)
    labels = spec["template"]["metadata"]["labels"]
    assert labels["job-name"] == "nulls"  # the labels the server gives a Job's template
    assert spec["backoffLimit"] == 6  # null is absent, so defaulted
    assert "volumes" not in spec["template"]["spec"]


def test_a_deployment_with_nulls_is_created_and_defaulted(sim: KubeSimulator, raw: Raw) -> None:
    status, body, _ = raw.request("POST", DEPLOYS, deployment("web"))
    assert status == 201, body
    assert not has_null(body)
    spec = stored_spec(sim, "deployments.apps", "web")
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert "ports" not in spec["template"]["spec"]["containers"][0]


def test_kubectl_apply_of_yaml_with_empty_blocks(
    sim: KubeSimulator, kubectl: Kubectl, tmp_path: Path
) -> None:
    """An empty YAML block (``metadata:``) is a null: client-side apply drops it before
    sending (only its last-applied annotation keeps it), server-side apply sends it."""
    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations:\n"
        "spec:\n  template:\n    metadata:\n    spec:\n      restartPolicy: Never\n"
        "      containers:\n      - name: run\n        image: busybox:1\n        env:\n"
    )
    text = manifest.read_text()
    for name, mode in (("csa", []), ("ssa", ["--server-side"])):
        manifest.write_text(text.replace("{name}", name))
        kubectl.run("apply", *mode, "-f", str(manifest))
        spec = stored_spec(sim, "jobs.batch", name)
        assert not has_null(spec)
        assert spec["template"]["metadata"]["labels"]["job-name"] == name


@pytest.mark.parametrize(
    ("content_type", "patch"),
    [
        ("application/merge-patch+json", {"spec": {"strategy": None, "replicas": None}}),
        ("application/strategic-merge-patch+json", {"spec": {"strategy": None}}),
        (
            "application/json-patch+json",
            [
                {"op": "replace", "path": "/spec/strategy", "value": None},
                {"op": "add", "path": "/spec/template/spec/volumes", "value": None},
            ],
        ),
        (
            "application/strategic-merge-patch+json",
            {"spec": {"template": {"metadata": {"annotations": None}, "spec": {"volumes": None}}}},
        ),
    ],
    ids=["merge", "strategic", "json", "strategic-nested"],
)
def test_patches_with_nulls(sim: KubeSimulator, raw: Raw, content_type: str, patch: Any) -> None:
    raw.request("POST", DEPLOYS, deployment("patched"))
    status, body, _ = raw.request("PATCH", DEPLOYS + "/patched", patch, content_type=content_type)
    assert status == 200, body
    assert not has_null(body)
    spec = stored_spec(sim, "deployments.apps", "patched")
    assert spec["strategy"]["type"] == "RollingUpdate"  # deleted, then defaulted again
    assert spec["replicas"] == 1


def test_server_side_apply_with_nulls(sim: KubeSimulator, raw: Raw) -> None:
    path = DEPLOYS + "/applied?fieldManager=test"
    content_type = "application/apply-patch+yaml"
    for _ in range(2):
        status, body, _ = raw.request(
            "PATCH", path, deployment("applied"), content_type=content_type
        )
        assert status in (200, 201), body
        assert not has_null(body)


def test_a_null_in_a_map_of_strings_is_the_empty_string(sim: KubeSimulator, raw: Raw) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "labelled", "labels": {"team": None}, "annotations": {"a": None}},
        "data": {"key": "value"},
    }
    status, created, _ = raw.request("POST", NS + "/configmaps", body)
    assert status == 201, created
    meta = get(sim, "configmaps", "default", "labelled")["metadata"]
    assert (meta["labels"], meta["annotations"]) == ({"team": ""}, {"a": ""})


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n1"}, "spec": None},
        ),
        (
            NS + "/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "svc"},
                "spec": {
                    "type": None,
                    "selector": None,
                    "clusterIP": None,
                    "ports": [{"port": 80, "targetPort": None, "protocol": None}],
                },
            },
        ),
        (
            "/apis/apps/v1/namespaces/default/statefulsets",
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "db"},
                "spec": {
                    "serviceName": "db",
                    "replicas": None,
                    "updateStrategy": None,
                    "volumeClaimTemplates": None,
                    "selector": {"matchLabels": {"app": "db"}},
                    "template": {
                        "metadata": {"labels": {"app": "db"}},
                        "spec": {"containers": [{"name": "db", "image": "redis:7"}]},
                    },
                },
            },
        ),
        (
            "/apis/batch/v1/namespaces/default/cronjobs",
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": {"name": "cron"},
                "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": job("x")["spec"]}},
            },
        ),
    ],
    ids=["namespace", "service", "statefulset", "cronjob"],
)
def test_other_kinds_with_nulls(sim: KubeSimulator, raw: Raw, path: str, body: Any) -> None:
    status, created, _ = raw.request("POST", path, body)
    assert status == 201, created
    assert not has_null(created)
    time.sleep(0.3)  # a controller pass over the new object
    assert sim.controller_errors == []


# -- Helm ----------------------------------------------------------------------------------


CHART_JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: migrate-{{ .Release.Revision }}
spec:
  template:
    metadata:
    {{- with .Values.podAnnotations }}
      annotations: {{- toYaml . | nindent 8 }}
    {{- end }}
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: "busybox:{{ .Values.tag }}"
"""

CHART_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations:
      {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      containers:
      - name: web
        image: "nginx:{{ .Values.tag }}"
        env:
        {{- range $k, $v := .Values.env }}
        - {name: {{ $k }}, value: {{ $v | quote }}}
        {{- end }}
"""


def test_helm_installs_and_upgrades_a_chart_rendering_nulls(
    sim: KubeSimulator, helm: Path, tmp_path: Path
) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: nulls\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("tag: '1'\npodAnnotations: {}\nenv: {}\n")
    (chart / "templates" / "job.yaml").write_text(CHART_JOB)
    (chart / "templates" / "deployment.yaml").write_text(CHART_DEPLOYMENT)
    home = tmp_path / "home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(helm), "--kubeconfig", str(sim.kubeconfig_path), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    rendered = run("template", "nulls", str(chart)).stdout
    assert "    metadata:\n    spec:" in rendered  # the template metadata is null
    installed = run("install", "nulls", str(chart), "--wait", "--timeout", "60s")
    assert installed.returncode == 0, installed.stderr
    assert not has_null(stored_spec(sim, "jobs.batch", "migrate-1"))
    upgraded = run("upgrade", "nulls", str(chart), "--set", "tag=2", "--wait", "--timeout", "60s")
    assert upgraded.returncode == 0, upgraded.stderr
    assert not has_null(stored_spec(sim, "jobs.batch", "migrate-2"))
    web = stored_spec(sim, "deployments.apps", "web")
    assert web["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert not has_null(web)
    assert json.dumps(sim.controller_errors) == "[]"
