"""The plan of an environment job on a Kubernetes target: one step per service, in stage order.

Each step lists the objects it would apply. Building the plan reaches no cluster, so whether an
object would be created or changed is not known: every change of a deploy is shown as
``update`` (the step tells what it really did when it runs, and a no-op deploy writes nothing);
a delete shows ``delete``. A router's step of a job with a ``dns`` section lists the records
of its domains too. A deploy of the whole environment ends with a step that prunes the
objects of services removed from the spec.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs

from qengine.runner import Change, ChangeAction, Step, StepContext
from qengine.spec import (
    ApplicationService,
    EnvAction,
    EnvironmentJob,
    HelmService,
    RouterService,
    Service,
)
from qengine_kubernetes import builds
from qengine_kubernetes.placeholders import image_token, secret_token
from qengine_kubernetes.render import RenderedService, canonical_json, render_environment
from qengine_kubernetes.render.context import Manifest, routing_of
from qengine_kubernetes.stages import STAGE_NAMES, service_dag, stage_of

if TYPE_CHECKING:
    from qengine.plugin import JobServices
    from qengine_kubernetes.settings import KubeSettings

STEP_PREFIX = "kubernetes/"
NAMESPACE_STEP = f"{STEP_PREFIX}namespace"
PRUNE_STEP = f"{STEP_PREFIX}prune"
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "CronJob"})
RunFn = Callable[[StepContext], Mapping[str, str]]
UndoFn = Callable[[StepContext], None]


def step_id(service: str) -> str:
    """The id of the step of ``service``."""
    return f"{STEP_PREFIX}service/{service}"


def _nothing_to_do(ctx: StepContext) -> Mapping[str, str]:
    return {}


def _changes(objects: tuple[Manifest, ...], action: EnvAction, hook: bool = False) -> list[Change]:
    if action in (EnvAction.PAUSE, EnvAction.RESUME, EnvAction.RESTART):
        objects = tuple(o for o in objects if o["kind"] in WORKLOAD_KINDS)
    # An on_delete hook is applied and run before the environment goes.
    deleting = action is EnvAction.DELETE and not hook
    verb = ChangeAction.DELETE if deleting else ChangeAction.UPDATE
    return [Change(action=verb, kind=o["kind"], name=o["metadata"]["name"]) for o in objects]


def plan_steps(job: EnvironmentJob, services: JobServices, settings: KubeSettings) -> list[Step]:
    """The steps of ``job``'s action: the namespace's, then (or, to delete, before it) each
    service's.

    ``services`` (secrets, registry, DNS provider) and ``settings`` are what the steps use when
    they run; building the steps reaches no cluster and opens no secret.
    """
    from qengine_kubernetes.actions import Actions

    actions = Actions(job, services, settings)
    environment = job.environment
    names: list[str] = [s.name for s in environment.services]
    images: dict[str, str] = {name: image_token(name) for name in names}
    rendered = render_environment(
        environment,
        open_secret=secret_token,
        images=images,
        registry_pull=builds.placeholder_payload(job),
        routing=routing_of(job.target),
    )
    chosen: set[str] = set(job.services) or set(names)
    dag = {k: v for k, v in service_dag(environment.services, job.action).items() if k in chosen}
    by_name: dict[str, Service] = {s.name: s for s in environment.services}
    steps: list[Step] = []
    for name, waits in dag.items():
        service = rendered.service(name)
        depends = [step_id(w) for w in waits if w in dag]
        if job.action is EnvAction.DEPLOY:
            depends.append(NAMESPACE_STEP)
        if isinstance(by_name[name], ApplicationService) and builds.builds_applications(job):
            depends.append(builds.build_step_id(name))
        stage = stage_of(by_name[name])
        where = STAGE_NAMES[stage] if stage is not None else "on-delete hooks"
        hook = stage is None
        helm = isinstance(by_name[name], HelmService)
        run = actions.for_service(name, hook=hook, helm=helm)
        # A failed Helm upgrade rolls itself back (--atomic); a completed one is undone with
        # helm rollback (or uninstall) when the job fails or is cancelled later; other deployed
        # services are undone from their history.
        undo: UndoFn | None = None
        if job.action is EnvAction.DEPLOY:
            undo = actions.undo_release(name) if helm else actions.undo_service(name)
        records = _dns_changes(job, by_name[name])
        steps.append(
            _service_step(
                service, job.action, depends, where, hook=hook, run=run, undo=undo, extra=records
            )
        )
    if job.action is EnvAction.DEPLOY:
        run = actions.namespace()
        first = _namespace_step(rendered.environment_objects, job.action, [], run)
        steps.insert(0, attrs.evolve(first, compensate=actions.undo_namespace()))
        if not job.services:
            steps.append(_prune_step([s.id for s in steps], actions.prune()))
    elif job.action is EnvAction.DELETE and not job.services:
        steps.append(
            _namespace_step(
                rendered.environment_objects, job.action, [s.id for s in steps], actions.namespace()
            )
        )
    return steps


def _dns_changes(job: EnvironmentJob, service: Service) -> list[Change]:
    """The DNS records a router's step points or deletes, when the job has a ``dns`` section
    (their types depend on the address the cluster gives the Ingress, known only then)."""
    if job.dns is None or not isinstance(service, RouterService):
        return []
    verbs = {EnvAction.DEPLOY: ChangeAction.UPDATE, EnvAction.DELETE: ChangeAction.DELETE}
    verb = verbs.get(job.action)
    if verb is None:
        return []
    return [Change(action=verb, kind="DnsRecord", name=host) for host in service.domains]


def _prune_step(depends: list[str], run: RunFn) -> Step:
    return Step(
        id=PRUNE_STEP,
        run=run,
        depends_on=tuple(sorted(depends)),
        description="delete the objects of services removed from the spec",
    )


def _content_hash(objects: tuple[Manifest, ...], action: EnvAction) -> str:
    material = canonical_json({"action": action.value, "objects": list(objects)})
    return hashlib.sha256(material.encode()).hexdigest()


def _service_step(
    service: RenderedService,
    action: EnvAction,
    depends: list[str],
    where: str,
    *,
    hook: bool,
    run: RunFn,
    undo: UndoFn | None,
    extra: list[Change],
) -> Step:
    description = f"{action.value} {service.kind} {service.name} ({where})"
    changes = _changes(service.objects, action, hook)
    if service.kind == "helm":
        changes = [Change(action=ChangeAction.UPDATE, kind="HelmRelease", name=service.name)]
    if service.note:
        description += f": {service.note}"
        if service.kind == "database":
            run, undo = _nothing_to_do, None
    return Step(
        id=step_id(service.name),
        run=run,
        depends_on=tuple(sorted(depends)),
        description=description,
        changes=(*changes, *extra),
        content_hash=_content_hash(service.objects, action),
        compensate=undo,
        # The undo reads what the job wrote from the cluster, so it also undoes a rollout
        # that a failure or a cancellation stopped half-way.
        compensate_partial=undo is not None,
    )


def _namespace_step(
    objects: tuple[Manifest, ...], action: EnvAction, depends: list[str], run: RunFn
) -> Step:
    namespace = objects[0]["metadata"]["name"]
    return Step(
        id=NAMESPACE_STEP,
        run=run,
        depends_on=tuple(depends),
        description=f"{action.value} namespace {namespace} and its isolation and quota",
        changes=tuple(_changes(objects, action)),
        content_hash=_content_hash(objects, action),
    )
