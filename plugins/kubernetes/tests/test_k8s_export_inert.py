"""``qengine export`` is inert: hostile spec values come out of the real ``helm template``
exactly as written, never as template code, YAML, a secret read or a shell command."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from qengine_kubernetes.export import export_job, helm_literal
from qengine_kubernetes.placeholders import secret_token

from qengine.plugin import SpecError
from qengine.spec import EnvironmentJob

Load = Callable[[dict[str, Any]], EnvironmentJob]
Example = Callable[[str], dict[str, Any]]

HOSTILE = [
    "{{ .Release.Name }}",
    '{{- fail "rendered a value as code" }}',
    "}}{{",
    "{{{ triple }}}",
    "{{/* a comment */}}",
    '{{ "{{" }}',
    "qengine-expression-0-end",
    "key: value\nkind: Secret",
    "--- !!python/object:os.system ['id']",
    "&anchor *alias # comment",
    "$(touch /tmp/qengine-pwned); `id` | rm -rf ~",
]


def _hostile_doc(example: Example) -> dict[str, Any]:
    doc = example("quickstart")
    for service in doc["environment"]["services"]:
        if service["name"] == "worker":
            service["command"] = ["/app/worker", *HOSTILE]
            service["env"].update({f"HOSTILE_{i}": value for i, value in enumerate(HOSTILE)})
    return doc


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


def test_k8s_helm_renders_hostile_values_literally(
    load_env_job: Load, example: Example, helm_binary: Path, tmp_path: Path
) -> None:
    job = load_env_job(_hostile_doc(example))
    export_job(job, tmp_path / "out")
    values = {
        "secrets": {"db_password": "p{{ .Values }}w", "session_key": "s"},
        "images": {},
        "secretsHashKey": "k",
    }
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    result = _helm(
        helm_binary,
        tmp_path,
        "template",
        "q",
        str(tmp_path / "out" / "chart"),
        "-f",
        str(values_file),
    )
    assert result.returncode == 0, result.stderr
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    worker = next(
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "worker"
    )
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/app/worker", *HOSTILE]
    plain = {e["name"]: e.get("value") for e in container.get("env", [])}
    config = {
        k: v for o in objects if o["kind"] == "ConfigMap" for k, v in (o.get("data") or {}).items()
    }
    for index, value in enumerate(HOSTILE):
        assert value in (plain.get(f"HOSTILE_{index}"), config.get(f"HOSTILE_{index}"))
    # No object but the job's own came out of a value (no injected Secret), and the only
    # secret values in the output are in Secrets.
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"} <= {
        "db-credentials",
        "web-env",
        "worker-env",
        "migrate-env",
        "nightly-report-env",
    }
    for obj in objects:
        if obj["kind"] != "Secret":
            assert "p{{ .Values }}w" not in json.dumps(obj)


def test_k8s_helm_literal_round_trips_through_helm(helm_binary: Path, tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    text = "\n".join(f"# {value}" for value in HOSTILE if "\n" not in value)
    (chart / "templates" / "notes.yaml").write_text(helm_literal(text) + "\n")
    result = _helm(helm_binary, tmp_path, "template", "q", str(chart))
    assert result.returncode == 0, result.stderr
    assert text in result.stdout


def test_k8s_a_placeholder_in_a_spec_value_is_refused(load_env_job: Load, example: Example) -> None:
    """A plan, an export or a rollback would fill it with the secret's value."""
    doc = example("quickstart")
    worker = next(s for s in doc["environment"]["services"] if s["name"] == "worker")
    worker["env"]["LEAK"] = f"x-{secret_token('db_password')}"
    with pytest.raises(SpecError) as caught:
        load_env_job(doc)
    paths = [issue.path for issue in caught.value.issues]
    assert paths == ["$.environment.services[worker]"]
    assert "placeholder" in caught.value.issues[0].message


def test_k8s_readme_commands_are_shell_quoted(
    load_env_job: Load, example: Example, tmp_path: Path
) -> None:
    doc = example("all-kinds")
    helm = next(s for s in doc["environment"]["services"] if s["kind"] == "helm")
    helm["chart"]["name"] = "redis;touch /tmp/pwned"
    helm["chart"]["repository"] = "https://charts.example.com/$(id)"
    job = load_env_job(doc)
    export_job(job, tmp_path)
    readme = (tmp_path / "chart" / "README.md").read_text()
    commands = [line.strip() for line in readme.splitlines() if line.startswith("    helm ")]
    argvs = [shlex.split(command) for command in commands]
    release = next(a for a in argvs if helm["name"] in a)
    assert release[-3:] == ["--", helm["name"], "redis;touch /tmp/pwned"]
    assert "--repo=https://charts.example.com/$(id)" in release
    # Each command is exactly its words, quoted: splitting and joining again gives it back.
    for command, argv in zip(commands, argvs, strict=True):
        assert shlex.join(argv) == command
