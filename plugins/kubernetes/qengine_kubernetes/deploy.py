"""Deploying one service: apply what changed, watch the rollout, keep the revision, or roll back.

1. Render the service with its real secret values (and once more with placeholders, for the
   history), find its history Secret in the job's inventory (``inventory``: each kind listed
   once per job, not read per object).
2. Apply the objects whose applied-hash differs from the live one (``apply``).
3. Watch Deployments and StatefulSets roll out and run-once Jobs complete (``rollout``), from
   the apply's answers, through the job's one watch per kind (``watches``); a router's
   HTTPRoute until its Gateway serves it (``gateways``).
4. On success, delete the objects the previous revision had and this one has not, and store
   the new revision. On failure, re-apply the previous revision (or, when the service never
   deployed successfully, delete what this job applied), report the Warning Events, and fail
   the step.

When no object changed, nothing is written, but the step still keeps its promise: a run that
was killed or cancelled mid-rollout left objects that are already "applied", so the live state
is checked (every workload rolled out and ready, every run-once Job complete, from the objects
step 2 read; a workload that is not is awaited, and one that fails is rolled back as in 4), and
the revision is stored when the history has none for what is live. A no-op redeploy of a
healthy service thus sends no request of its own: the job's lists of step 1 are all it reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from qengine.plugin import QengineError
from qengine.runner import StepContext
from qengine.spec import JobService, RouterService
from qengine_kubernetes import dns, history, pulltoken
from qengine_kubernetes.apply import Applied, applied_by, apply_objects, delete_objects, key
from qengine_kubernetes.builds import built_images
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.gateways import await_route
from qengine_kubernetes.inventory import Inventory, inventory_of
from qengine_kubernetes.jobctx import EnvJob
from qengine_kubernetes.outputs import read_outputs
from qengine_kubernetes.render import Manifest
from qengine_kubernetes.rollout import RolloutError, Waiter, job_state, readiness, rollout_timeout

WAITED = frozenset({"Deployment", "StatefulSet", "Job"})


def deploy_service(env: EnvJob, name: str, ctx: StepContext) -> Mapping[str, str]:
    """Deploy service ``name``; its outputs (a run-once job's)."""
    api = env.api()
    known = inventory_of(api, env.namespace, env.job.environment.id)
    images = built_images(env.job, ctx, name)
    objects = list(env.render(name, images).objects)
    known.prefetch([*(obj["kind"] for obj in objects), "Secret"])  # Secret: the history
    public = history.storable(objects, list(env.render_public(name, images).objects))
    past = history.load(api, env.namespace, name, env.job.environment.id, known=known)
    created: list[Manifest] = []
    try:
        rest = pulltoken.renew(env, api, ctx, objects, known=known, created=created)
        applied = apply_objects(api, ctx, rest, created, known=known)
    except QengineError as exc:
        if past.latest is None and not exc.retryable:
            gone = delete_objects(api, ctx, created, known=known)
            if gone:
                ctx.emit_warning(f"{name}: the first deploy failed; deleted {', '.join(gone)}")
        raise
    try:
        if applied.changed:
            outputs = _roll_out(env, api, ctx, name, objects, public, past, applied, known)
        else:
            outputs = _verify(env, api, ctx, name, objects, public, past, applied, known)
    except RolloutError as exc:
        recover(env, api, ctx, name, past, applied, exc, known=known)
        raise
    dns.publish(env, api, ctx, name, objects, past)
    return outputs


def _roll_out(
    env: EnvJob,
    api: KubeApi,
    ctx: StepContext,
    name: str,
    objects: list[Manifest],
    public: list[Manifest],
    past: history.History,
    applied: Applied,
    known: Inventory,
) -> dict[str, str]:
    """Await what was applied, delete what the previous revision had and this one has not,
    and store the new revision; the outputs. A failed rollout raises :class:`RolloutError`."""
    outputs = await_objects(env, api, ctx, name, objects, written=applied.written)
    if past.latest is not None:
        wanted = {key(o) for o in objects}
        leftovers = [o for o in past.latest.objects if key(o) not in wanted]
        delete_objects(api, ctx, leftovers, known=known)
    revision = past.with_revision(env.job.id, public, env.settings.history_limit)
    history.save(api, revision, known=known)
    return outputs


def _verify(
    env: EnvJob,
    api: KubeApi,
    ctx: StepContext,
    name: str,
    objects: list[Manifest],
    public: list[Manifest],
    past: history.History,
    applied: Applied,
    known: Inventory,
) -> dict[str, str]:
    """Nothing changed: check that the live objects (as ``apply_objects`` read them) are rolled
    out and ready and their Jobs complete, await those that are not, and record the revision
    when the history lacks it; the outputs. A failed rollout raises :class:`RolloutError`."""
    waited = [o for o in objects if o["kind"] in WAITED]
    pending = [o for o in waited if not is_settled(applied.live.get(key(o)))]
    if pending:
        ctx.emit_progress(f"{name}: unchanged, but its rollout is not complete", service=name)
    else:
        ctx.emit_progress(f"{name}: unchanged", service=name)
    waiter = Waiter(api, ctx, env.namespace, name)
    outputs: dict[str, str] = {}
    for obj in waited:
        live = applied.live.get(key(obj))
        if obj in pending:
            timeout = rollout_timeout(obj, env.settings.rollout_timeout)
            wait = waiter.job if obj["kind"] == "Job" else waiter.workload
            live = wait(obj, timeout)
        if obj["kind"] == "Job" and live is not None:
            outputs.update(read_outputs(api, env.namespace, live, _pattern(env, name)))
    for obj in objects:
        if obj["kind"] == "HTTPRoute":
            _await_route(env, api, ctx, name, obj)
    if not _recorded(past, public):
        writer = _writer(ctx, applied)
        updated = past.with_revision(writer, public, env.settings.history_limit)
        history.save(api, updated, known=known)
        number = updated.latest.number if updated.latest else 0
        ctx.emit_progress(f"{name}: recorded revision {number} of what is live", service=name)
    return outputs


def is_settled(live: Manifest | None) -> bool:
    """Whether a live workload (Deployment, StatefulSet) has rolled out and is ready, or a
    live Job completed."""
    if live is None:
        return False
    if live["kind"] == "Job":
        return job_state(live) == "complete"
    return readiness(live)[2]


def _recorded(past: history.History, public: list[Manifest]) -> bool:
    """Whether the latest revision of ``past`` holds exactly ``public``."""
    return past.latest is not None and history.same_objects(past.latest.objects, public)


def _writer(ctx: StepContext, applied: Applied) -> str:
    """The job that wrote the live objects of an unchanged service, for its revision: this
    job when it wrote any (an earlier run of it was stopped), else the one that wrote them."""
    writers = {applied_by(live) for live in applied.live.values()} - {""}
    if not writers:
        return "unknown"  # written before qengine recorded writers
    return ctx.job_id if ctx.job_id in writers else sorted(writers)[0]


def await_objects(
    env: EnvJob,
    api: KubeApi,
    ctx: StepContext,
    name: str,
    objects: list[Manifest],
    *,
    rollback: bool = False,
    written: Mapping[tuple[str, str], Manifest] | None = None,
) -> dict[str, str]:
    """Wait for the workloads and run-once Jobs of ``objects``; the Jobs' outputs.

    ``rollback``: the objects are a restored revision. The wait does not fail fast (the
    failing pods being replaced are still there) and forces a stuck StatefulSet's rollback
    (see :mod:`qengine_kubernetes.rollout`). ``written``: the API's answers to the applies
    (see :class:`~qengine_kubernetes.apply.Applied`), where each wait starts."""
    waiter = Waiter(api, ctx, env.namespace, name, fail_fast=not rollback, force_stuck=rollback)
    outputs: dict[str, str] = {}
    written = written or {}
    for obj in objects:
        if obj["kind"] == "HTTPRoute":
            _await_route(env, api, ctx, name, obj)
        if obj["kind"] not in WAITED:
            continue
        timeout = rollout_timeout(obj, env.settings.rollout_timeout)
        start = written.get(key(obj))
        if obj["kind"] == "Job":
            live = waiter.job(obj, timeout, start=start)
            outputs.update(read_outputs(api, env.namespace, live, _pattern(env, name)))
        else:
            waiter.workload(obj, timeout, start=start)
    return outputs


def _await_route(env: EnvJob, api: KubeApi, ctx: StepContext, name: str, route: Manifest) -> None:
    """Wait until router ``name``'s HTTPRoute is served (see :mod:`.gateways`)."""
    service = env.service(name)
    tls = isinstance(service, RouterService) and service.tls.enabled
    timeout = rollout_timeout(route, env.settings.rollout_timeout)
    await_route(api, ctx, env.namespace, route, tls, timeout)


def _pattern(env: EnvJob, name: str) -> str:
    service = env.service(name)
    return service.output_name_pattern if isinstance(service, JobService) else r"^[A-Z][A-Z0-9_]*$"


def recover(
    env: EnvJob,
    api: KubeApi,
    ctx: StepContext,
    name: str,
    past: history.History,
    applied: Applied,
    exc: RolloutError,
    *,
    known: Inventory | None = None,
) -> None:
    """Undo a failed rollout of ``name``: back to the previous revision, or remove what this
    job applied of a service that never deployed successfully. Reports the Warning Events; a
    failure to recover is a warning too.

    The objects this revision added are deleted: those this run created, and those it found
    already applied by this job (a run of it that was killed or cancelled mid-rollout).
    The cluster is read afresh here; ``known`` (the job's inventory) is told what changed.
    """
    for line in exc.events:
        ctx.emit_warning(f"{name}: {line}")
    mine = [o for o in applied.unchanged if applied_by(applied.live.get(key(o))) == ctx.job_id]
    added = [*applied.created, *mine]
    previous = past.latest
    if previous is None:
        gone = delete_objects(api, ctx, added, known=known)
        done = f"deleted what it created ({', '.join(gone)})" if gone else "it created nothing"
        ctx.emit_warning(f"{name}: the first deploy failed; {done}")
        return
    # Jobs are not re-run: a rollback restores long-running objects, not past migrations.
    restored = [o for o in previous.filled(env.open_secret) if o["kind"] != "Job"]
    before = {key(o) for o in previous.objects}
    back = apply_objects(api, ctx, pulltoken.renew(env, api, ctx, restored))
    if known is not None:
        for live in back.written.values():
            known.record(live)
    gone = delete_objects(api, ctx, [o for o in added if key(o) not in before], known=known)
    if not back.changed:
        # Waiting would only watch the failure again: what is live is the previous revision.
        what = f"deleted {', '.join(gone)}" if gone else "nothing to undo"
        ctx.emit_warning(
            f"{name}: revision {previous.number} (job {previous.job_id}) is live; {what}"
        )
        return
    try:
        await_objects(env, api, ctx, name, restored, rollback=True)
    except RolloutError as again:
        ctx.emit_warning(
            f"{name}: the rollback to revision {previous.number} did not settle: {again}"
        )
        return
    ctx.emit_warning(f"{name}: rolled back to revision {previous.number} (job {previous.job_id})")
