"""Export of an environment job as a Helm chart that reproduces the deployment without qengine.

``chart/`` holds ``Chart.yaml``, ``values.yaml`` and one template per rendered object: the
object rendered with placeholders and serialised with PyYAML's ``safe_dump`` (data, never
string templates), then each placeholder replaced by a Helm expression reading
``.Values.secrets`` or ``.Values.images``. ``values.yaml`` lists those keys with empty values;
``required`` makes ``helm`` refuse to render until each is filled. The secret-hash annotation
becomes a keyed hash of all of ``.Values.secrets``, ``sha256(k:sha256(k:json))`` with the key
``k`` = ``.Values.secretsHashKey`` (a random string the user keeps, like the secrets), so
changing a value rolls the pods under Helm too while the annotation confirms no guess of a
value to whoever can read the pod template. Helm services are listed in ``chart/README.md`` as
``helm upgrade --install`` commands, with their values in ``helm-values/`` (secret values left
empty).

The export is inert, whatever the spec holds: every ``{{`` and ``}}`` of a template's text is
written as a Helm action printing it, so a value is never template code; the markers that
become Helm expressions carry a random nonce a spec cannot guess; a spec value that holds a
placeholder (and would read a secret into the chart) is refused; every word of a command in
the README is shell-quoted; and each file name is checked to stay in the export directory.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]  # stubs: types-PyYAML, if installed

from qengine.plugin import InvalidInputError
from qengine.spec import (
    EnvironmentJob,
    HelmService,
    Job,
    parse_duration,
)
from qengine_kubernetes.builds import placeholder_payload
from qengine_kubernetes.checks import is_kubernetes_job
from qengine_kubernetes.placeholders import find_tokens, image_token, is_token, secret_token
from qengine_kubernetes.render import RenderedEnvironment, render_environment
from qengine_kubernetes.render.context import Manifest, routing_of
from qengine_kubernetes.render.job import HOOK_ANNOTATION
from qengine_kubernetes.render.secrets import HASH_ANNOTATION

CHART_DIR = "chart"
HELM_VALUES_DIR = "helm-values"
_EXPR = "qengine-expression-{nonce}-{index}-end"
HASH_KEY_VALUE = "secretsHashKey"
_HASH_KEY = (
    'required "set secretsHashKey in values.yaml to a random string (openssl rand -hex 32), '
    f'the same on every upgrade" .Values.{HASH_KEY_VALUE}'
)
SECRETS_HASH_EXPR = (
    f'sha256sum (printf "%s:%s" ({_HASH_KEY}) '
    f'(sha256sum (printf "%s:%s" ({_HASH_KEY}) (toJson .Values.secrets))))'
)
_DELIMITERS = re.compile(r"\{\{|\}\}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
HELM_HOOK = "helm.sh/hook"
HELM_HOOKS = {"after_start": "post-install,post-upgrade", "on_delete": "pre-delete"}


def export_job(job: Job, directory: Path) -> list[str]:
    """Write the chart of ``job``'s environment under ``directory``; the paths written."""
    if not isinstance(job, EnvironmentJob) or not is_kubernetes_job(job):
        return []
    environment = job.environment
    _refuse_placeholders(job)
    images: dict[str, str] = {s.name: image_token(s.name) for s in environment.services}
    rendered = render_environment(
        environment,
        open_secret=secret_token,
        images=images,
        registry_pull=placeholder_payload(job),
        routing=routing_of(job.target),
    )
    files: dict[str, str] = {
        f"{CHART_DIR}/Chart.yaml": _chart_yaml(job),
        f"{CHART_DIR}/values.yaml": values_yaml(rendered),
        f"{CHART_DIR}/README.md": _readme(job, rendered),
    }
    for obj in rendered.objects():
        files[f"{CHART_DIR}/templates/{template_name(obj)}"] = template_text(with_helm_hook(obj))
    for service in environment.services:
        if isinstance(service, HelmService):
            files[f"{HELM_VALUES_DIR}/{service.name}.yaml"] = _helm_values(service)
    for relative, text in files.items():
        _check_file_name(relative)
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return sorted(files)


def _refuse_placeholders(job: EnvironmentJob) -> None:
    """Refuse a spec whose plain values hold a placeholder: the chart would read a secret (or
    an image) where the spec wrote text. Secrets are rendered empty, so any token found came
    from the spec itself."""
    plain = render_environment(
        job.environment, open_secret=lambda name: "", routing=routing_of(job.target)
    )
    found = sorted({token for obj in plain.objects() for token, *_ in find_tokens(json.dumps(obj))})
    if found:
        raise InvalidInputError(
            f"a value of environment {job.environment.name!r} holds the placeholder "
            f"{found[0]!r}, which qengine writes in place of a secret or image",
            hint="Remove it from the spec: an export would turn it into a value of the chart.",
        )


def _check_file_name(relative: str) -> None:
    """Each part of an exported file's path is a plain name: no ``..``, no separator trick."""
    if not all(_FILE_NAME.fullmatch(part) for part in relative.split("/")):
        raise InvalidInputError(
            f"cannot export a file named {relative!r}",
            hint="Service and object names must be DNS labels.",
        )


def helm_literal(text: str) -> str:
    """``text`` with each ``{{`` and ``}}`` written as a Helm action that prints it, so Helm
    renders ``text`` exactly and runs none of it."""
    return _DELIMITERS.sub(lambda match: '{{ "' + match.group(0) + '" }}', text)


def with_helm_hook(obj: Manifest) -> Manifest:
    """``obj`` with the Helm hook annotation matching its qengine hook, if any.

    Without it Helm would run an ``on_delete`` job at install time. ``before_start`` jobs stay
    plain objects: a pre-install hook would run before the databases exist.
    """
    hook = obj["metadata"].get("annotations", {}).get(HOOK_ANNOTATION)
    helm_hook = HELM_HOOKS.get(hook or "")
    if helm_hook is None:
        return obj
    metadata = dict(obj["metadata"])
    metadata["annotations"] = {**metadata["annotations"], HELM_HOOK: helm_hook}
    return {**obj, "metadata": metadata}


def template_name(obj: Manifest) -> str:
    """``<kind>-<name>.yaml``: unique, since validation refuses two objects of one kind and
    name."""
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def _dump(data: object) -> str:
    text: str = yaml.safe_dump(data, sort_keys=True, default_flow_style=False, width=1_000_000)
    return text


def template_text(obj: Manifest) -> str:
    """The template of one object: its YAML, inert for Helm (:func:`helm_literal`), with
    placeholders turned into Helm expressions."""
    expressions: list[str] = []
    nonce = secrets.token_hex(16)
    prepared = _prepare(obj, expressions, nonce)
    text = helm_literal(_dump(prepared))
    for index, expression in enumerate(expressions):
        marker = _EXPR.format(nonce=nonce, index=index)
        text = text.replace(marker, "{{ " + expression + " | quote }}")
    if find_tokens(text):
        raise AssertionError("a placeholder was left in an exported template")  # pragma: no cover
    return text


def _prepare(node: Any, expressions: list[str], nonce: str, key: str = "") -> Any:
    """A copy of ``node`` where each string holding a placeholder becomes an expression marker."""
    if isinstance(node, dict):
        return {k: _prepare(v, expressions, nonce, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_prepare(v, expressions, nonce) for v in node]
    if not isinstance(node, str):
        return node
    expression: str | None = None
    if key == HASH_ANNOTATION:
        expression = SECRETS_HASH_EXPR
    elif is_token(node):
        expression = _value_expression(node)
    elif find_tokens(node):
        # A JSON document holding secrets (a registry's dockerconfigjson): rebuilt in Helm.
        expression = _json_expression(json.loads(node)) + " | toJson"
    if expression is None:
        return node
    expressions.append(expression)
    return _EXPR.format(nonce=nonce, index=len(expressions) - 1)


def _value_expression(token: str) -> str:
    [(_, group, name)] = find_tokens(token)
    message = f"set {group}.{name} in values.yaml"
    return f"required {json.dumps(message)} (index .Values.{group} {json.dumps(name)})"


def _json_expression(node: Any) -> str:
    if isinstance(node, dict):
        items = " ".join(f"{json.dumps(k)} {_json_expression(v)}" for k, v in node.items())
        return f"(dict {items})"
    if isinstance(node, list):
        return "(list " + " ".join(_json_expression(v) for v in node) + ")"
    if isinstance(node, str) and is_token(node):
        return f"({_value_expression(node)})"
    return json.dumps(node)


def placeholder_keys(rendered: RenderedEnvironment) -> dict[str, list[str]]:
    """The secrets and images a chart's values must supply, sorted, by group."""
    keys: dict[str, set[str]] = {"secrets": set(), "images": set()}
    for obj in rendered.objects():
        for _, group, name in find_tokens(json.dumps(obj)):
            keys[group].add(name)
    return {group: sorted(names) for group, names in keys.items()}


def values_yaml(rendered: RenderedEnvironment) -> str:
    """``values.yaml``: every secret and image key, empty, under a comment to fill them; and
    ``secretsHashKey`` when a pod template carries the secret-hash annotation."""
    keys = placeholder_keys(rendered)
    header = [
        "# Fill in every value below before installing: `helm` refuses to render while one is",
        "# empty. `secrets` are the values of the job's secret references (never written by",
        "# qengine); `images` are the images built for services built from source.",
    ]
    values: dict[str, object] = {group: dict.fromkeys(names, "") for group, names in keys.items()}
    if any(HASH_ANNOTATION in json.dumps(obj) for obj in rendered.objects()):
        header += [
            "# `secretsHashKey` keys the hash that rolls pods when a secret changes: a random",
            "# string (`openssl rand -hex 32`) kept like a secret and the same on every upgrade.",
        ]
        values[HASH_KEY_VALUE] = ""
    return "\n".join(header) + "\n" + _dump(values)


def _chart_yaml(job: EnvironmentJob) -> str:
    chart = {
        "apiVersion": "v2",
        "name": job.environment.name,
        "description": f"Environment {job.environment.name} exported by qengine from job {job.id}",
        "type": "application",
        "version": "0.1.0",
    }
    return _dump(chart)


def _helm_command(service: HelmService, namespace: str) -> str:
    """The README's command for ``service``: every word from the spec shell-quoted, and the
    release and chart after the flags' values, so none can be read as a flag or run."""
    chart = service.chart
    parts = ["helm", "upgrade", "--install"]
    if chart.version:
        parts.append(f"--version={chart.version}")
    if chart.path is None and not (chart.repository or "").startswith("oci://"):
        parts.append(f"--repo={chart.repository}")
    seconds = int(parse_duration(service.timeout))
    parts += [f"--namespace={namespace}", "--atomic", "--wait", f"--timeout={seconds}s"]
    parts.append(f"--values={HELM_VALUES_DIR}/{service.name}.yaml")
    parts.append("--")
    parts.append(service.name)
    if chart.path is not None:
        parts.append(f"./{chart.path}")
    elif chart.repository is not None and chart.repository.startswith("oci://"):
        parts.append(f"{chart.repository.rstrip('/')}/{chart.name}")
    else:
        parts.append(chart.name)
    return " ".join(shlex.quote(part) for part in parts)


def _helm_values(service: HelmService) -> str:
    # Paths are JSON-quoted: a key with a line break cannot leave the comment.
    secret_paths = [json.dumps(path) for path, _ in service.values.secret_refs()]
    header = ["# Values of the Helm release " + json.dumps(service.name) + "."]
    if secret_paths:
        header.append("# Fill in these secret values (left empty): " + ", ".join(secret_paths))
    values = service.values.resolve(lambda name: "")
    return "\n".join(header) + "\n" + _dump(values)


def _readme(job: EnvironmentJob, rendered: RenderedEnvironment) -> str:
    lines = [
        f"# Environment {job.environment.name}",
        "",
        "A Helm chart of the objects qengine renders for this environment. Fill in",
        "`values.yaml`, then install it from the export directory. The chart creates the",
        f"namespace `{rendered.namespace}` itself and every object names it, so the release",
        "record stays in the namespace helm is pointed at (no `--create-namespace`):",
        "",
        "    helm upgrade --install --values=chart/values.yaml -- "
        f"{shlex.quote(job.environment.name)} ./chart",
        "",
    ]
    helm = [s for s in job.environment.services if isinstance(s, HelmService)]
    if helm:
        lines += ["## Helm releases", "", "Install these after the chart:", ""]
        lines += [f"    {_helm_command(s, rendered.namespace)}" for s in helm]
        lines.append("")
    notes = [f"- `{s.name}`: {s.note}" for s in rendered.services if s.note and s.kind != "helm"]
    if notes:
        lines += ["## Not in this chart", "", *notes, ""]
    lines += _job_notes()
    return "\n".join(lines)


def _job_notes() -> list[str]:
    return [
        "## Jobs",
        "",
        "Jobs annotated `qengine.dev/hook` are lifecycle hooks qengine runs in order",
        "(`before_start` before the workloads, `after_start` after them, `on_delete` before",
        "deletion). In this chart `after_start` jobs are Helm post-install/post-upgrade hooks",
        "and `on_delete` jobs pre-delete hooks; `before_start` jobs are installed with",
        "everything else, so they may need to retry until their databases are up.",
        "",
    ]
