"""What a plan would change on the cluster: each object's live version against a dry-run.

``qengine plan`` asks the cluster, without a mutating request and without opening a secret:

- an object that does not exist would be created;
- one that exists is applied as a server-side dry-run (``dryRun=All``, server-side apply as
  field manager ``qengine``, forced, as a deploy applies it): the API server answers with the
  object as the apply would leave it (defaulted, validated, fields qengine no longer renders
  removed) and stores nothing. That answer compared with the live object gives the fields
  that change, or none (unchanged);
- the pruning step lists the objects of services removed from the spec (delete).

A delete lists each service's objects that exist (its claims only with ``delete_data``), and
the namespace unless claims keep it. Pause, resume and restart are not previewed.

The objects are rendered as ``plan`` and ``export`` render them, with placeholders for secret
values: a Secret's values and anything holding a placeholder are never compared nor shown
(``(secret)``); a Secret whose keys are the same is unchanged as far as a plan can tell (a
changed secret value alone shows only when ``run`` applies it). An image built by the job is
not known before the build. qengine's own bookkeeping annotations (the applied hash, the job
that wrote the object, the pod template's secret hash) are left out of the comparison.

A field someone changed in the cluster behind qengine's back (drift) is listed, and the object
shown unchanged with a note when the plan can tell that ``run`` leaves it (``run`` rewrites an
object only when its rendering changed: its applied hash); an object whose rendering holds a
secret value cannot be told apart and shows as an update. Helm releases and
DNS records are not previewed (their steps say so). A target that cannot be reached makes
every step "not known", with the reason.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from qengine.plugin import QengineError, RetryPolicy
from qengine.runner import Step
from qengine.runner.plan import SECRET, FieldDiff, ObjectDiff, StepPreview, Verdict
from qengine.spec import EnvAction, EnvironmentJob, HelmService
from qengine_kubernetes import builds
from qengine_kubernetes.apply import APPLIED_BY
from qengine_kubernetes.client import APPLY, FIELD_MANAGER, KubeApi
from qengine_kubernetes.diff import APPLIED_HASH, PULL_TOKEN_EXPIRES, stamped, up_to_date
from qengine_kubernetes.placeholders import find_tokens, image_token, secret_token
from qengine_kubernetes.render import Manifest, render_environment
from qengine_kubernetes.render.context import routing_of
from qengine_kubernetes.render.labels import ENVIRONMENT_ID, SERVICE_ID
from qengine_kubernetes.render.secrets import HASH_ANNOTATION
from qengine_kubernetes.resources import SERVICE_KINDS, apply_order, resource_of
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.steps import NAMESPACE_STEP, PRUNE_STEP, step_id

PLAN_RETRY = RetryPolicy(max_attempts=3, max_elapsed_seconds=10.0, initial_backoff=0.2)
"""A plan does not wait for a struggling cluster as a run does: 3 attempts within 10 s."""

# The expiry of a token pull Secret is the deploy step's to write (pulltoken), not rendered.
BOOKKEEPING = frozenset({APPLIED_HASH, APPLIED_BY, HASH_ANNOTATION, PULL_TOKEN_EXPIRES})
SERVER_METADATA = frozenset(
    {"resourceVersion", "managedFields", "generation", "creationTimestamp", "uid", "selfLink"}
)
SECRET_FIELDS = frozenset({"data", "stringData", "binaryData"})
BUILT = "(image built by the job)"
_WIDTH = 60


def preview(
    job: EnvironmentJob,
    steps: Sequence[Step],
    settings: KubeSettings,
    api: KubeApi,
) -> dict[str, StepPreview]:
    """What each of ``steps`` would change on the cluster of ``api`` (reads and dry-runs
    only). A deploy and a delete are previewed; the steps of other actions are not known."""
    if job.action is EnvAction.DELETE:
        return _delete_preview(api, job, steps)
    if job.action is not EnvAction.DEPLOY:
        why = f"a {job.action.value} is not previewed"
        return {step.id: StepPreview.not_known(why) for step in steps}
    environment = job.environment
    rendered = render_environment(
        environment,
        open_secret=secret_token,
        images={s.name: image_token(s.name) for s in environment.services},
        registry_pull=builds.placeholder_payload(job),
        routing=routing_of(job.target),
    )
    kinds = {str(s.name): s for s in environment.services}
    wanted = {step.id for step in steps}
    out: dict[str, StepPreview] = {}
    if NAMESPACE_STEP in wanted:
        out[NAMESPACE_STEP] = _objects_preview(api, rendered.environment_objects)
    for service in rendered.services:
        sid = step_id(service.name)
        if sid not in wanted:
            continue
        if isinstance(kinds.get(service.name), HelmService):
            out[sid] = StepPreview.not_known("a Helm release is not previewed")
        elif service.note and not service.objects:
            out[sid] = StepPreview(note=service.note)
        else:
            found = _objects_preview(api, service.objects)
            if job.dns is not None and service.kind == "router":
                found = StepPreview(
                    objects=found.objects,
                    unknown=found.unknown,
                    note="its DNS records are not previewed",
                )
            out[sid] = found
    if PRUNE_STEP in wanted and not job.services:
        out[PRUNE_STEP] = _prune_preview(api, job, rendered.namespace)
    return out


def plan_client(api: KubeApi) -> KubeApi:
    """``api`` with the plan's short retry budget."""
    api.retry = PLAN_RETRY
    return api


def _objects_preview(api: KubeApi, objects: Iterable[Manifest]) -> StepPreview:
    try:
        diffs = [_object_diff(api, obj) for obj in sorted(objects, key=_order)]
    except QengineError as exc:
        return StepPreview.not_known(f"the cluster refused a dry-run or a read: {_short(exc)}")
    return StepPreview(objects=tuple(diffs))


def _short(exc: QengineError, limit: int = 300) -> str:
    text = exc.message
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _order(obj: Manifest) -> int:
    return apply_order(obj["kind"])


def _object_diff(api: KubeApi, obj: Manifest) -> ObjectDiff:
    kind, name = obj["kind"], obj["metadata"]["name"]
    namespace = obj["metadata"].get("namespace")
    live = api.get(kind, namespace, name)
    if live is None:
        return ObjectDiff(action=Verdict.CREATE, kind=kind, name=name)
    if kind == "Job" and not live.get("metadata", {}).get("deletionTimestamp"):
        # Jobs are immutable and named by the digest of their spec: one that exists is this one.
        return ObjectDiff(action=Verdict.UNCHANGED, kind=kind, name=name)
    path = resource_of(kind).path(namespace, name)
    query = {"fieldManager": FIELD_MANAGER, "force": "true", "dryRun": "All"}
    after = api.request("PATCH", path, query=query, body=stamped(obj), content_type=APPLY)
    secret_paths = _token_paths(obj)
    fields = tuple(_compare(_comparable(live), _comparable(after), kind, secret_paths))
    notes = []
    if kind == "Secret":
        notes.append("values not compared")
    elif any(group == "images" for group in secret_paths.values()):
        notes.append("built image not compared")
    action = Verdict.UPDATE if fields else Verdict.UNCHANGED
    if fields and _renders_exactly(obj) and up_to_date(stamped(obj), live):
        # Changed in the cluster, not in the spec: run writes an object only when its rendering
        # changed (its applied hash), so it leaves this drift alone.
        action = Verdict.UNCHANGED
        notes.append("changed in the cluster since qengine applied it; `run` leaves it so")
    note = "; ".join(notes)
    return ObjectDiff(action=action, kind=kind, name=name, fields=fields, note=note)


def _renders_exactly(obj: Manifest) -> bool:
    """Whether the plan's rendering of ``obj`` is the run's: no placeholder and no secret hash
    in it, so its applied hash is the one a run would compute."""
    text = json.dumps(obj)
    return not find_tokens(text) and HASH_ANNOTATION not in text


def _comparable(obj: Manifest) -> Manifest:
    """``obj`` without what the server or qengine's bookkeeping sets on every write."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for field in SERVER_METADATA:
        meta.pop(field, None)
    _drop_bookkeeping(out)
    if out.get("kind") == "Secret":
        # Keys only: the dry-run's values are placeholders, the live ones secrets.
        data = dict.fromkeys([*(out.pop("data", None) or {}), *(out.pop("stringData", None) or {})])
        out["data"] = {k: SECRET for k in sorted(data)}
    return out


def _drop_bookkeeping(value: Any) -> None:
    """Remove qengine's bookkeeping annotations from every ``metadata`` within ``value`` (the
    object's, its pod template's, a CronJob's job template's)."""
    if isinstance(value, list):
        for item in value:
            _drop_bookkeeping(item)
    if not isinstance(value, dict):
        return
    for key, item in list(value.items()):
        if key == "metadata" and isinstance(item, dict):
            annotations = item.get("annotations")
            if isinstance(annotations, dict):
                for name in BOOKKEEPING:
                    annotations.pop(name, None)
                if not annotations:
                    item.pop("annotations")
        _drop_bookkeeping(item)


def _token_paths(obj: Manifest) -> dict[str, str]:
    """The paths of the rendered ``obj`` whose value holds a placeholder, and its group
    (``secrets`` or ``images``)."""
    found: dict[str, str] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, _join(path, str(key)))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{_label(item, index)}]")
        elif isinstance(value, str):
            tokens = find_tokens(value)
            if tokens:
                groups = {group for _, group, _ in tokens}
                found[path] = "secrets" if "secrets" in groups else "images"

    walk(obj, "")
    return found


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _label(item: Any, index: int) -> str:
    """A list element's name when it has one (containers, ports, env), else its index."""
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return str(item["name"])
    return str(index)


def _compare(
    before: Any, after: Any, kind: str, tokens: Mapping[str, str], path: str = ""
) -> list[FieldDiff]:
    if path in tokens:
        return []  # a secret value or a built image: not known before the run
    if isinstance(before, dict) and isinstance(after, dict):
        diffs: list[FieldDiff] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = _join(path, str(key))
            if key in before and key in after:
                diffs.extend(_compare(before[key], after[key], kind, tokens, sub))
            elif _tokens_under(sub, tokens):
                continue
            else:
                diffs.append(_field(sub, before.get(key), after.get(key), key in before, kind))
        return diffs
    if isinstance(before, list) and isinstance(after, list):
        labels_before = [_label(item, i) for i, item in enumerate(before)]
        labels_after = [_label(item, i) for i, item in enumerate(after)]
        if labels_before == labels_after:
            return [
                d
                for label, old, new in zip(labels_after, before, after, strict=True)
                for d in _compare(old, new, kind, tokens, f"{path}[{label}]")
            ]
    if before == after:
        return []
    return [_field(path, before, after, True, kind, present_after=True)]


def _tokens_under(path: str, tokens: Mapping[str, str]) -> bool:
    return any(p == path or p.startswith(path + ".") or p.startswith(path + "[") for p in tokens)


def _field(
    path: str,
    before: Any,
    after: Any,
    present_before: bool,
    kind: str,
    *,
    present_after: bool | None = None,
) -> FieldDiff:
    if present_after is None:
        present_after = not present_before
    secret = kind == "Secret" and path.split(".")[0] in SECRET_FIELDS
    return FieldDiff(
        path=path,
        before=_shown(before, secret) if present_before else None,
        after=_shown(after, secret) if present_after else None,
    )


def _shown(value: Any, secret: bool) -> str:
    if secret:
        return SECRET
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    for token, group, _ in find_tokens(text):
        text = text.replace(token, SECRET if group == "secrets" else BUILT)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _prune_preview(api: KubeApi, job: EnvironmentJob, namespace: str) -> StepPreview:
    names = sorted(s.name for s in job.environment.services)
    selector = f"{ENVIRONMENT_ID}={job.environment.id},{SERVICE_ID}"
    if names:
        selector += f",{SERVICE_ID} notin ({','.join(names)})"
    diffs: list[ObjectDiff] = []
    kept: list[str] = []
    try:
        if api.get("Namespace", None, namespace) is None:
            return StepPreview()
        for kind in SERVICE_KINDS:
            for item in api.list(kind, namespace, selector):
                name = item["metadata"]["name"]
                if kind == "PersistentVolumeClaim" and not job.environment.delete_data:
                    kept.append(name)
                    continue
                diffs.append(ObjectDiff(action=Verdict.DELETE, kind=kind, name=name))
    except QengineError as exc:
        return StepPreview.not_known(f"the cluster refused a read: {_short(exc)}")
    note = f"kept: the claims of removed services {', '.join(kept)}" if kept else ""
    diffs.sort(key=lambda d: -apply_order(d.kind))
    return StepPreview(objects=tuple(diffs), note=note)


def _delete_preview(
    api: KubeApi, job: EnvironmentJob, steps: Sequence[Step]
) -> dict[str, StepPreview]:
    """A delete: each service's labelled objects (claims only with ``delete_data``), then the
    namespace with whatever is left in it; an ``on_delete`` hook's job is not previewed."""
    from qengine_kubernetes.render.names import namespace_name
    from qengine_kubernetes.stages import stage_of

    namespace = namespace_name(job.environment)
    hooks = {step_id(s.name) for s in job.environment.services if stage_of(s) is None}
    keep_data = not job.environment.delete_data
    out: dict[str, StepPreview] = {}
    try:
        if api.get("Namespace", None, namespace) is None:
            gone = StepPreview(note=f"namespace {namespace} does not exist: nothing to delete")
            return {step.id: gone for step in steps}
        for step in steps:
            if step.id in hooks:
                out[step.id] = StepPreview.not_known("an on_delete hook runs a job first")
            elif step.id == NAMESPACE_STEP:
                out[step.id] = _namespace_delete(api, namespace, keep_data)
            else:
                name = step.id.removeprefix(step_id(""))
                selector = f"{ENVIRONMENT_ID}={job.environment.id},{SERVICE_ID}={name}"
                out[step.id] = _listed(api, namespace, selector, name, keep_data)
    except QengineError as exc:
        why = f"the cluster refused a read: {_short(exc)}"
        return {step.id: StepPreview.not_known(why) for step in steps}
    return out


def _listed(
    api: KubeApi, namespace: str, selector: str, service: str, keep_data: bool
) -> StepPreview:
    """What a service's delete step deletes: its labelled objects, and its claims (those of
    its StatefulSets are found by name) when ``delete_data``."""
    from qengine_kubernetes.lifecycle import _claims_of

    diffs: list[ObjectDiff] = []
    for kind in SERVICE_KINDS:
        if kind == "PersistentVolumeClaim":
            continue
        for item in api.list(kind, namespace, selector):
            diffs.append(
                ObjectDiff(action=Verdict.DELETE, kind=kind, name=item["metadata"]["name"])
            )
    claims = sorted(c["metadata"]["name"] for c in _claims_of(api, namespace, service))
    kept = claims if keep_data else []
    if not keep_data:
        diffs.extend(
            ObjectDiff(action=Verdict.DELETE, kind="PersistentVolumeClaim", name=c) for c in claims
        )
    diffs.sort(key=lambda d: -apply_order(d.kind))
    note = f"kept (delete_data is off): the claims {', '.join(kept)}" if kept else ""
    return StepPreview(objects=tuple(diffs), note=note)


def _namespace_delete(api: KubeApi, namespace: str, keep_data: bool) -> StepPreview:
    claims = api.list("PersistentVolumeClaim", namespace) if keep_data else []
    if claims:
        kept = ", ".join(sorted(c["metadata"]["name"] for c in claims))
        return StepPreview(
            note=f"namespace {namespace} is kept: it holds the claims {kept} (delete_data is off)"
        )
    gone = ObjectDiff(action=Verdict.DELETE, kind="Namespace", name=namespace)
    return StepPreview(objects=(gone,), note="with everything left in it")


def preview_steps(
    job: EnvironmentJob, steps: Sequence[Step], settings: KubeSettings
) -> dict[str, StepPreview]:
    """:func:`preview` of this plugin's ``steps`` on the job's cluster, or each step not known
    (with the reason) when the cluster cannot be reached or refuses the first read."""
    from qengine_kubernetes.access import connect
    from qengine_kubernetes.render.names import namespace_name
    from qengine_kubernetes.steps import STEP_PREFIX

    own = [step for step in steps if step.id.startswith(STEP_PREFIX)]
    if not own:
        return {}
    try:
        api = plan_client(connect(job.target, settings))
        api.get("Namespace", None, namespace_name(job.environment))
    except QengineError as exc:
        why = f"the cluster could not be asked: {_short(exc)}"
        return {step.id: StepPreview.not_known(why) for step in own}
    return preview(job, own, settings, api)
