"""pause, resume, restart and delete of services and environments.

* pause: Deployments and StatefulSets are scaled to zero, their replica count remembered in
  the annotation ``qengine.dev/paused-replicas``; CronJobs are suspended (the annotation says
  ``suspended``). Each scale-down is awaited.
* resume: the remembered counts are restored (CronJobs un-suspended) and the rollouts awaited.
  A deploy of a paused service resumes it too.
* restart: the pod template gets the annotation ``kubectl.kubernetes.io/restartedAt`` (as
  ``kubectl rollout restart`` does) and the rollout is awaited.
* delete: a service's objects go (found by their labels, so objects of older renderings go
  too), with its history Secret, and a router's DNS records before them (see
  :mod:`qengine_kubernetes.dns`); PersistentVolumeClaims are kept unless the environment says
  ``delete_data``, and a warning names each one kept. Deleting the whole environment deletes
  its namespace and waits until it is gone, except when claims are kept: then everything but
  the claims is deleted and the namespace stays.
"""

from __future__ import annotations

import datetime
import re

from qengine.runner import ChangeAction, StepContext
from qengine_kubernetes import dns
from qengine_kubernetes.apply import delete_objects
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.diff import PAUSED_REPLICAS, annotation
from qengine_kubernetes.history import secret_name
from qengine_kubernetes.jobctx import EnvJob
from qengine_kubernetes.paused import SUSPENDED, resume_patch
from qengine_kubernetes.render import Manifest
from qengine_kubernetes.render.labels import ENVIRONMENT_ID, SERVICE_ID
from qengine_kubernetes.resources import SERVICE_KINDS
from qengine_kubernetes.rollout import RolloutError, Waiter, rollout_timeout

SCALED = frozenset({"Deployment", "StatefulSet"})
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def _workloads(env: EnvJob, api: KubeApi, name: str) -> list[Manifest]:
    found: list[Manifest] = []
    for obj in env.render_public(name).objects:
        if obj["kind"] in (*SCALED, "CronJob"):
            live = api.get(obj["kind"], env.namespace, obj["metadata"]["name"])
            if live is not None:
                live.setdefault("kind", obj["kind"])
                found.append(live)
    return found


def _wait(env: EnvJob, api: KubeApi, ctx: StepContext, name: str, live: Manifest) -> None:
    Waiter(api, ctx, env.namespace, name).workload(
        live, rollout_timeout(live, env.settings.rollout_timeout)
    )


def pause_service(env: EnvJob, name: str, ctx: StepContext) -> dict[str, str]:
    """Scale ``name`` to zero and suspend its CronJobs, remembering what to restore."""
    api = env.api()
    for live in _workloads(env, api, name):
        if annotation(live, PAUSED_REPLICAS) is not None:
            continue
        kind, obj_name = live["kind"], live["metadata"]["name"]
        if kind == "CronJob":
            patch: Manifest = {
                "metadata": {"annotations": {PAUSED_REPLICAS: SUSPENDED}},
                "spec": {"suspend": True},
            }
        else:
            count = str(live.get("spec", {}).get("replicas", 1))
            patch = {"metadata": {"annotations": {PAUSED_REPLICAS: count}}, "spec": {"replicas": 0}}
        updated = api.merge_patch(kind, env.namespace, obj_name, patch)
        ctx.emit_resource_changed(ChangeAction.UPDATE, kind, obj_name, f"paused {kind} {obj_name}")
        if kind in SCALED:
            updated.setdefault("kind", kind)
            _wait(env, api, ctx, name, updated)
    return {}


def resume_service(env: EnvJob, name: str, ctx: StepContext) -> dict[str, str]:
    """Restore what :func:`pause_service` remembered and wait for the rollouts."""
    api = env.api()
    for live in _workloads(env, api, name):
        patch = resume_patch(live)
        if patch is None:
            continue
        kind, obj_name = live["kind"], live["metadata"]["name"]
        updated = api.merge_patch(kind, env.namespace, obj_name, patch)
        ctx.emit_resource_changed(ChangeAction.UPDATE, kind, obj_name, f"resumed {kind} {obj_name}")
        if kind in SCALED:
            updated.setdefault("kind", kind)
            _wait(env, api, ctx, name, updated)
    return {}


def restart_service(env: EnvJob, name: str, ctx: StepContext) -> dict[str, str]:
    """Roll the pods of ``name`` (as ``kubectl rollout restart``) and wait for them."""
    api = env.api()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for live in _workloads(env, api, name):
        kind, obj_name = live["kind"], live["metadata"]["name"]
        if kind not in SCALED:
            continue
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        updated = api.merge_patch(kind, env.namespace, obj_name, patch)
        ctx.emit_resource_changed(
            ChangeAction.UPDATE, kind, obj_name, f"restarted {kind} {obj_name}"
        )
        updated.setdefault("kind", kind)
        try:
            _wait(env, api, ctx, name, updated)
        except RolloutError as exc:
            for line in exc.events:
                ctx.emit_warning(f"{name}: {line}")
            raise
    return {}


def _labelled(api: KubeApi, namespace: str, selector: str) -> list[Manifest]:
    found: list[Manifest] = []
    for kind in SERVICE_KINDS:
        for item in api.list(kind, namespace, selector):
            item["kind"] = kind
            found.append(item)
    return found


def _claims_of(api: KubeApi, namespace: str, service: str | None) -> list[Manifest]:
    claims = api.list("PersistentVolumeClaim", namespace)
    if service is None:
        return claims
    # A StatefulSet's claims are named <template>-<statefulset>-<ordinal> and may lack labels.
    pattern = re.compile(rf".+-{re.escape(service)}-\d+")
    return [
        c
        for c in claims
        if (c["metadata"].get("labels") or {}).get(SERVICE_ID) == service
        or pattern.fullmatch(c["metadata"]["name"])
    ]


def delete_service(env: EnvJob, name: str, ctx: StepContext) -> dict[str, str]:
    """Delete the objects of service ``name``; claims kept unless ``delete_data``. A router's
    DNS records go first, even when its namespace is already gone."""
    api = env.api()
    present = api.get("Namespace", None, env.namespace) is not None
    dns.withdraw(env, api if present else None, ctx, name)
    if not present:
        return {}
    selector = f"{ENVIRONMENT_ID}={env.job.environment.id},{SERVICE_ID}={name}"
    objects = [o for o in _labelled(api, env.namespace, selector) if not _is_claim(o)]
    delete_objects(api, ctx, objects)
    api.delete("Secret", env.namespace, secret_name(name))
    _claims(env, api, ctx, _claims_of(api, env.namespace, name))
    return {}


def _is_claim(obj: Manifest) -> bool:
    return bool(obj["kind"] == "PersistentVolumeClaim")


def _claims(env: EnvJob, api: KubeApi, ctx: StepContext, claims: list[Manifest]) -> None:
    for claim in claims:
        claim["kind"] = "PersistentVolumeClaim"
    if env.job.environment.delete_data:
        delete_objects(api, ctx, claims)
    elif claims:
        kept = ", ".join(sorted(c["metadata"]["name"] for c in claims))
        ctx.emit_warning(
            f"kept the data of namespace {env.namespace}: PersistentVolumeClaims {kept} "
            "(set environment.delete_data to delete them)"
        )


def delete_environment(env: EnvJob, ctx: StepContext) -> dict[str, str]:
    """Delete the namespace and wait until it is gone; keep it when it holds kept claims."""
    api = env.api()
    if api.get("Namespace", None, env.namespace) is None:
        return {}
    claims = _claims_of(api, env.namespace, None)
    if claims and not env.job.environment.delete_data:
        selector = f"{ENVIRONMENT_ID}={env.job.environment.id}"
        leftovers = [o for o in _labelled(api, env.namespace, selector) if not _is_claim(o)]
        delete_objects(api, ctx, leftovers)
        _claims(env, api, ctx, claims)
        return {}
    api.delete("Namespace", None, env.namespace)
    ctx.emit_resource_changed(ChangeAction.DELETE, "Namespace", env.namespace)
    _await_gone(api, ctx, env.namespace)
    return {}


def _await_gone(api: KubeApi, ctx: StepContext, namespace: str) -> None:
    field = f"metadata.name={namespace}"
    while True:
        ctx.cancel.raise_if_cancelled()
        live = api.get("Namespace", None, namespace)
        if live is None:
            return
        ctx.emit_progress(f"namespace {namespace}: terminating", namespace=namespace)
        version = live["metadata"].get("resourceVersion", "")
        for event, _ in api.watch(
            "Namespace", None, field_selector=field, resource_version=version, timeout_seconds=2
        ):
            if event == "DELETED":
                return
