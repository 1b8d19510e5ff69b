"""Undoing what a deploy job did to one service: the ``compensate`` of its step.

The runner calls it, newest first, when a deploy fails or is cancelled: for each service step
the job completed (this run or an earlier run of the same job), and for the step a failure or
a cancellation stopped mid-rollout. What the job changed is read from the cluster, not from
the step's memory, so it works after a resume:

* the base revision is the newest revision of the service's history that another job wrote;
* the objects this job wrote (``qengine.dev/applied-by-job``) that the base revision does not
  have are deleted, and the base's objects are applied again where the live ones differ (the
  job changed them, or deleted them as leftovers); run-once Jobs are not re-run;
* the revisions this job recorded leave the history (the Secret goes when none is left);
* the workloads this re-applied are awaited, without failing fast (the pods of the revision
  being undone are still there); one that does not settle fails the compensation, so the
  recap lists the step as left as it is. So does a workload the step's own rollback (after a
  failed rollout) already put back but that is not ready: it is not awaited a second time.

With no base revision the job created the service: what it wrote is deleted (claims of a
StatefulSet are kept, as a delete keeps them). A step that changed nothing is undone with
reads only. A router the job created loses its DNS records with its Ingress; one restored to
the base loses the records of domains this job added (records it retired are not restored).
"""

from __future__ import annotations

from qengine.plugin import DeploymentError
from qengine.runner import StepContext
from qengine.spec import RouterService
from qengine_kubernetes import dns, history, pulltoken
from qengine_kubernetes.apply import applied_by, apply_objects, delete_objects, key
from qengine_kubernetes.builds import built_images
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.deploy import await_objects, is_settled
from qengine_kubernetes.jobctx import EnvJob
from qengine_kubernetes.render import Manifest
from qengine_kubernetes.resources import ROUTE_KINDS
from qengine_kubernetes.rollout import RolloutError

WORKLOADS = frozenset({"Deployment", "StatefulSet"})
HINT = "Read the Warning Events of the service's pods; deploy a fixed spec to repair it."


def compensate_service(env: EnvJob, name: str, ctx: StepContext) -> None:
    """Put service ``name`` back as it was before this job (``ctx.job_id``) deployed it."""
    api = env.api()
    past = history.load(api, env.namespace, name, env.job.environment.id)
    kept = past.without_job(ctx.job_id)
    base = kept.latest
    restored = [o for o in base.filled(env.open_secret) if o["kind"] != "Job"] if base else []
    wanted = {key(o) for o in base.objects} if base else set()
    candidates = {key(o): o for o in _touched(env, ctx, name, past)}
    doomed = [
        obj
        for k, obj in candidates.items()
        if k not in wanted and applied_by(_live(api, env, obj)) == ctx.job_id
    ]
    _withdraw_records(env, api, ctx, name, doomed, restored)
    back = apply_objects(api, ctx, pulltoken.renew(env, api, ctx, restored))
    gone = delete_objects(api, ctx, doomed)
    if kept.revisions != past.revisions:
        history.save(api, kept)
    number = base.number if base else 0
    # A workload this job already put back as the base has it, but not ready: the step's
    # own rollback (after a failed rollout) did not settle. Waiting again would repeat it.
    stuck = [
        f"{kind} {obj_name}"
        for (kind, obj_name), live in back.live.items()
        if kind in WORKLOADS and applied_by(live) == ctx.job_id and not is_settled(live)
    ]
    if stuck:
        raise DeploymentError(
            f"{name}: the rollback to revision {number} has not settled: "
            f"{', '.join(stuck)} not ready",
            hint=HINT,
        )
    if not back.changed and not gone:
        ctx.emit_progress(f"{name}: nothing of this job to roll back", service=name)
        return
    written = {key(o) for o in (*back.created, *back.updated)}
    again = [o for o in restored if key(o) in written]
    try:
        await_objects(env, api, ctx, name, again, rollback=True)
    except RolloutError as exc:
        raise DeploymentError(
            f"{name}: the rollback to revision {number} did not settle: {exc.message}",
            hint=HINT,
        ) from exc
    if base is None:
        ctx.emit_progress(f"{name}: deleted what this job created", service=name)
    else:
        ctx.emit_progress(
            f"{name}: rolled back to revision {base.number} (job {base.job_id})", service=name
        )


def _touched(env: EnvJob, ctx: StepContext, name: str, past: history.History) -> list[Manifest]:
    """The objects this job may have written: its rendering of the service (placeholders
    suffice: only kinds and names matter) and the revisions it recorded."""
    found = list(env.render_public(name, built_images(env.job, ctx, name)).objects)
    for revision in past.revisions:
        if revision.job_id == ctx.job_id:
            found.extend(revision.objects)
    return found


def _live(api: KubeApi, env: EnvJob, obj: Manifest) -> Manifest | None:
    namespace = obj["metadata"].get("namespace") or env.namespace
    return api.get(obj["kind"], namespace, obj["metadata"]["name"])


def _withdraw_records(
    env: EnvJob,
    api: KubeApi,
    ctx: StepContext,
    name: str,
    doomed: list[Manifest],
    restored: list[Manifest],
) -> None:
    """A router's records: all of them when its Ingress goes, else those of the domains this
    job added to the Ingress being restored."""
    if env.job.dns is None or not isinstance(env.service(name), RouterService):
        return
    if any(o["kind"] in ROUTE_KINDS for o in doomed):
        dns.withdraw(env, api, ctx, name)
        return
    live = api.get(dns.route_kind(env), env.namespace, name)
    if live is None or not restored or applied_by(live) != ctx.job_id:
        return
    before = {host for o in restored if o["kind"] in ROUTE_KINDS for host in dns.hosts_of(o)}
    added = [host for host in dns.hosts_of(live) if host not in before]
    if added:
        dns.withdraw_hosts(env, ctx, added, deleting=name)
