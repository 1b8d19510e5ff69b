"""The plan of an environment job on a Kubernetes target: one step per service, in stage order.

Each step lists the objects it would apply. Without the cluster it cannot be known whether an
object would be created or changed, so every change of a deploy is shown as ``update`` (the
environment engine will compare with the live objects and tell); a delete shows ``delete``.
Running a step fails with a clear error until the environment engine is available.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from qengine._errors import PluginError
from qengine.runner import Change, ChangeAction, Step, StepContext
from qengine.spec import EnvAction, EnvironmentJob, Service
from qengine_kubernetes.placeholders import image_token, secret_token
from qengine_kubernetes.render import RenderedService, canonical_json, render_environment
from qengine_kubernetes.render.context import Manifest
from qengine_kubernetes.stages import STAGE_NAMES, service_dag, stage_of

STEP_PREFIX = "kubernetes/"
NAMESPACE_STEP = f"{STEP_PREFIX}namespace"
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "CronJob"})
ENGINE_MISSING = "deploying needs the environment engine, which is not available yet"


def step_id(service: str) -> str:
    """The id of the step of ``service``."""
    return f"{STEP_PREFIX}service/{service}"


def _not_available(ctx: StepContext) -> Mapping[str, str]:
    raise PluginError(
        ENGINE_MISSING,
        hint="`qengine plan` and `qengine export` work today; the export's Helm chart deploys "
        "the environment without qengine.",
    )


def _nothing_to_do(ctx: StepContext) -> Mapping[str, str]:
    return {}


def _changes(objects: tuple[Manifest, ...], action: EnvAction, hook: bool = False) -> list[Change]:
    if action in (EnvAction.PAUSE, EnvAction.RESUME, EnvAction.RESTART):
        objects = tuple(o for o in objects if o["kind"] in WORKLOAD_KINDS)
    # An on_delete hook is applied and run before the environment goes.
    deleting = action is EnvAction.DELETE and not hook
    verb = ChangeAction.DELETE if deleting else ChangeAction.UPDATE
    return [Change(action=verb, kind=o["kind"], name=o["metadata"]["name"]) for o in objects]


def plan_steps(job: EnvironmentJob) -> list[Step]:
    """The steps of ``job``: the namespace's, then (or, to delete, before it) each service's."""
    environment = job.environment
    names: list[str] = [s.name for s in environment.services]
    images: dict[str, str] = {name: image_token(name) for name in names}
    rendered = render_environment(environment, open_secret=secret_token, images=images)
    chosen: set[str] = set(job.services) or set(names)
    dag = {k: v for k, v in service_dag(environment.services, job.action).items() if k in chosen}
    by_name: dict[str, Service] = {s.name: s for s in environment.services}
    steps: list[Step] = []
    for name, waits in dag.items():
        service = rendered.service(name)
        depends = [step_id(w) for w in waits if w in dag]
        if job.action is EnvAction.DEPLOY:
            depends.append(NAMESPACE_STEP)
        stage = stage_of(by_name[name])
        where = STAGE_NAMES[stage] if stage is not None else "on-delete hooks"
        steps.append(_service_step(service, job.action, depends, where, hook=stage is None))
    if job.action is EnvAction.DEPLOY:
        steps.insert(0, _namespace_step(rendered.environment_objects, job.action, []))
    elif job.action is EnvAction.DELETE and not job.services:
        steps.append(
            _namespace_step(rendered.environment_objects, job.action, [s.id for s in steps])
        )
    return steps


def _content_hash(objects: tuple[Manifest, ...], action: EnvAction) -> str:
    material = canonical_json({"action": action.value, "objects": list(objects)})
    return hashlib.sha256(material.encode()).hexdigest()


def _service_step(
    service: RenderedService, action: EnvAction, depends: list[str], where: str, *, hook: bool
) -> Step:
    description = f"{action.value} {service.kind} {service.name} ({where})"
    changes = _changes(service.objects, action, hook)
    run = _not_available
    if service.kind == "helm":
        changes = [Change(action=ChangeAction.UPDATE, kind="HelmRelease", name=service.name)]
    if service.note:
        description += f": {service.note}"
        if service.kind == "database":
            run = _nothing_to_do
    return Step(
        id=step_id(service.name),
        run=run,
        depends_on=tuple(sorted(depends)),
        description=description,
        changes=tuple(changes),
        content_hash=_content_hash(service.objects, action),
    )


def _namespace_step(objects: tuple[Manifest, ...], action: EnvAction, depends: list[str]) -> Step:
    namespace = objects[0]["metadata"]["name"]
    return Step(
        id=NAMESPACE_STEP,
        run=_not_available,
        depends_on=tuple(depends),
        description=f"{action.value} namespace {namespace} and its isolation and quota",
        changes=tuple(_changes(objects, action)),
        content_hash=_content_hash(objects, action),
    )
