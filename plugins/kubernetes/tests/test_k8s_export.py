"""The exported Helm chart, rendered by the real helm binary, gives the objects the renderer
gives; every rendered object passes the official schemas (kubernetes-validate)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from qengine_kubernetes.export import HELM_HOOK, export_job
from qengine_kubernetes.render import render_environment
from qengine_kubernetes.render.secrets import HASH_ANNOTATION

from qengine.spec import EnvironmentJob, secret_references

Load = Callable[[dict[str, Any]], EnvironmentJob]
Example = Callable[[str], dict[str, Any]]
KUBERNETES_VERSION = "1.33.0"
HASH_KEY = "a-random-key-the-user-keeps"


def _helm(helm: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def _values(job: EnvironmentJob) -> dict[str, dict[str, str]]:
    # Quotes, a dollar and a backslash: the chart must carry any value through intact.
    secrets = {name: f'it\'s "{name}" $1 \\ ok' for _, name in secret_references(job)}
    images = {s.name: f"registry.local/{s.name}:built" for s in job.environment.services}
    return {"secrets": secrets, "images": images, "secretsHashKey": HASH_KEY}


def chart_hash(key: str, secrets: dict[str, str]) -> str:
    """The chart's secret hash: sha256(key:sha256(key:json)), json as Helm's toJson."""
    material = json.dumps(secrets, sort_keys=True, separators=(",", ":"))
    inner = hashlib.sha256(f"{key}:{material}".encode()).hexdigest()
    return hashlib.sha256(f"{key}:{inner}".encode()).hexdigest()


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _built_job_names(job: EnvironmentJob, objects: dict[tuple[str, str], Any]) -> None:
    """Names the Jobs of services built from source ``<service>-*``, in place.

    A run-once Job is named by the digest of its spec, image included; the image built from
    source is a value of the chart, unknown when it was exported.
    """
    built = {s.name for s in job.environment.services if getattr(s, "git", None) is not None}
    for key in [k for k in objects if k[0] == "Job"]:
        service = objects[key]["metadata"]["labels"]["qengine.dev/service-id"]
        if service in built:
            obj = objects.pop(key)
            obj["metadata"]["name"] = f"{service}-*"
            objects[("Job", f"{service}-*")] = obj


def _pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] | None = spec.get("template")
    return template


def _without_hash(obj: dict[str, Any]) -> str | None:
    """Removes (and returns) the secret-hash annotation of ``obj``'s pod template."""
    template = _pod_template(obj)
    if template is None:
        return None
    annotations = template["metadata"].get("annotations", {})
    value = annotations.pop(HASH_ANNOTATION, None)
    if not annotations:
        template["metadata"].pop("annotations", None)
    return value


@pytest.mark.parametrize("name", ["quickstart", "all-kinds"])
def test_k8s_helm_template_of_the_export_gives_the_rendered_objects(
    name: str, load_env_job: Load, example: Example, helm_binary: Path, tmp_path: Path
) -> None:
    job = load_env_job(example(name))
    written = export_job(job, tmp_path / "out")
    assert "chart/Chart.yaml" in written
    assert "chart/values.yaml" in written
    values = _values(job)
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    chart = tmp_path / "out" / "chart"
    result = _helm(
        helm_binary, tmp_path, "template", job.environment.name, str(chart), "-f", str(values_file)
    )
    assert result.returncode == 0, result.stderr
    from_helm = {_key(o): o for o in yaml.safe_load_all(result.stdout) if o}

    rendered = render_environment(
        job.environment, open_secret=values["secrets"].__getitem__, images=values["images"]
    )
    expected = {_key(o): json.loads(json.dumps(o)) for o in rendered.objects()}
    _built_job_names(job, from_helm)
    _built_job_names(job, expected)
    assert set(from_helm) == set(expected)

    keyed = chart_hash(HASH_KEY, values["secrets"])
    # Without the key, the plain SHA-256 of the values (what a viewer can test) does not match.
    plain = json.dumps(values["secrets"], sort_keys=True, separators=(",", ":"))
    assert keyed != hashlib.sha256(plain.encode()).hexdigest()
    for key, obj in from_helm.items():
        annotations = obj["metadata"].get("annotations", {})
        hook = annotations.pop(HELM_HOOK, None)
        if not annotations:
            obj["metadata"].pop("annotations", None)
        if hook is not None:
            assert key[0] == "Job"
        had_hash = _without_hash(expected[key]) is not None
        assert (_without_hash(obj) == keyed) == had_hash
        assert obj == expected[key], key


def test_k8s_export_needs_its_values_filled(
    load_env_job: Load, example: Example, helm_binary: Path, tmp_path: Path
) -> None:
    job = load_env_job(example("quickstart"))
    export_job(job, tmp_path / "out")
    values = yaml.safe_load((tmp_path / "out" / "chart" / "values.yaml").read_text())
    assert values == {
        "images": {},
        "secrets": {"db_password": "", "session_key": ""},
        "secretsHashKey": "",
    }
    result = _helm(helm_binary, tmp_path, "template", "q", str(tmp_path / "out" / "chart"))
    assert result.returncode != 0
    assert "set secrets" in result.stderr  # a secret or the hash key
    assert "in values.yaml" in result.stderr


def test_k8s_export_lists_helm_releases(
    load_env_job: Load, example: Example, tmp_path: Path
) -> None:
    job = load_env_job(example("all-kinds"))
    written = export_job(job, tmp_path)
    readme = (tmp_path / "chart" / "README.md").read_text()
    assert (
        "helm upgrade --install --version=20.1.0 --namespace=qe-e1-8b5cc4 --atomic --wait "
        "--timeout=300s --values=helm-values/redis-cache.yaml -- redis-cache "
        "oci://registry.example.com/charts/redis"
    ) in readme
    assert "helm-values/redis-cache.yaml" in written
    values = yaml.safe_load((tmp_path / "helm-values" / "redis-cache.yaml").read_text())
    assert values == {"auth": {"password": ""}, "replica": {"replicaCount": 2}}
    assert "`buckets`" in readme
    assert "`cache-db`" in readme


def test_k8s_other_jobs_export_nothing(k8s_plugins: Any, tmp_path: Path) -> None:
    import qengine.testing.plugin as test_plugin
    from qengine import load_plugins

    plugins = load_plugins(
        strict=True, environ={"QENGINE_PLUGINS": "kubernetes"}, plugins=[("test", test_plugin)]
    )
    doc = json.loads(
        (Path(__file__).resolve().parents[3] / "examples/quickstart/job.json").read_text()
    )
    doc["target"] = {"kind": "test", "steps": "a"}
    assert export_job(plugins.loader.load(doc), tmp_path) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["quickstart", "all-kinds"])
def test_k8s_every_rendered_object_passes_the_schemas(
    name: str, load_env_job: Load, example: Example
) -> None:
    job = load_env_job(example(name))
    values = _values(job)
    rendered = render_environment(
        job.environment, open_secret=values["secrets"].__getitem__, images=values["images"]
    )
    objects = list(rendered.objects())
    assert len(objects) >= 10
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_k8s_schema_validation_catches_a_bad_object(load_env_job: Load, example: Example) -> None:
    rendered = render_environment(
        load_env_job(example("quickstart")).environment, open_secret=lambda n: "x"
    )
    deployment = next(o for o in rendered.objects() if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["port"] = 80
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_k8s_export_is_deterministic(load_env_job: Load, example: Example, tmp_path: Path) -> None:
    job = load_env_job(example("all-kinds"))
    first = export_job(job, tmp_path / "a")
    second = export_job(job, tmp_path / "b")
    assert first == second
    for relative in first:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
