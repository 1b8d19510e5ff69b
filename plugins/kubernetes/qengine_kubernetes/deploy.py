"""Deploying one service: apply what changed, watch the rollout, keep the revision, or roll back.

1. Render the service with its real secret values (and once more with placeholders, for the
   history), read its history Secret.
2. Apply the objects whose applied-hash differs from the live one (``apply``); when none
   does, the service is unchanged and nothing is written (a run-once job's outputs are read
   again from its completed pod).
3. Watch Deployments and StatefulSets roll out and run-once Jobs complete (``rollout``).
4. On success, delete the objects the previous revision had and this one has not, and store
   the new revision. On failure, re-apply the previous revision (or, on a first deploy,
   delete what was created), report the Warning Events, and fail the step.
"""

from __future__ import annotations

from collections.abc import Mapping

from qengine.plugin import QengineError
from qengine.runner import StepContext
from qengine.spec import JobService
from qengine_kubernetes import dns, history
from qengine_kubernetes.apply import Applied, apply_objects, delete_objects, key
from qengine_kubernetes.builds import built_images
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.jobctx import EnvJob
from qengine_kubernetes.outputs import read_outputs
from qengine_kubernetes.render import Manifest
from qengine_kubernetes.rollout import RolloutError, Waiter, rollout_timeout

WAITED = frozenset({"Deployment", "StatefulSet", "Job"})


def deploy_service(env: EnvJob, name: str, ctx: StepContext) -> Mapping[str, str]:
    """Deploy service ``name``; its outputs (a run-once job's)."""
    api = env.api()
    images = built_images(env.job, ctx, name)
    objects = list(env.render(name, images).objects)
    public = history.storable(objects, list(env.render_public(name, images).objects))
    past = history.load(api, env.namespace, name, env.job.environment.id)
    created: list[Manifest] = []
    try:
        applied = apply_objects(api, ctx, objects, created)
    except QengineError as exc:
        if past.latest is None and not exc.retryable:
            gone = delete_objects(api, ctx, created)
            if gone:
                ctx.emit_warning(f"{name}: the first deploy failed; deleted {', '.join(gone)}")
        raise
    if applied.changed:
        outputs = _roll_out(env, api, ctx, name, objects, public, past, applied)
    else:
        ctx.emit_progress(f"{name}: unchanged", service=name)
        outputs = _outputs_of_existing(env, api, name, objects)
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
) -> dict[str, str]:
    """Await what was applied (rolling back on failure), delete what the previous revision
    had and this one has not, and store the new revision; the outputs."""
    try:
        outputs = await_objects(env, api, ctx, name, objects)
    except RolloutError as exc:
        recover(env, api, ctx, name, past, applied, exc)
        raise
    if past.latest is not None:
        wanted = {key(o) for o in objects}
        leftovers = [o for o in past.latest.objects if key(o) not in wanted]
        delete_objects(api, ctx, leftovers)
    history.save(api, past.with_revision(env.job.id, public, env.settings.history_limit))
    return outputs


def await_objects(
    env: EnvJob,
    api: KubeApi,
    ctx: StepContext,
    name: str,
    objects: list[Manifest],
    *,
    fail_fast: bool = True,
) -> dict[str, str]:
    """Wait for the workloads and run-once Jobs of ``objects``; the Jobs' outputs."""
    waiter = Waiter(api, ctx, env.namespace, name, fail_fast=fail_fast)
    outputs: dict[str, str] = {}
    for obj in objects:
        if obj["kind"] not in WAITED:
            continue
        timeout = rollout_timeout(obj, env.settings.rollout_timeout)
        if obj["kind"] == "Job":
            live = waiter.job(obj, timeout)
            outputs.update(read_outputs(api, env.namespace, live, _pattern(env, name)))
        else:
            waiter.workload(obj, timeout)
    return outputs


def _pattern(env: EnvJob, name: str) -> str:
    service = env.service(name)
    return service.output_name_pattern if isinstance(service, JobService) else r"^[A-Z][A-Z0-9_]*$"


def _outputs_of_existing(
    env: EnvJob, api: KubeApi, name: str, objects: list[Manifest]
) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for obj in objects:
        if obj["kind"] == "Job":
            outputs.update(read_outputs(api, env.namespace, obj, _pattern(env, name)))
    return outputs


def recover(
    env: EnvJob,
    api: KubeApi,
    ctx: StepContext,
    name: str,
    past: history.History,
    applied: Applied,
    exc: RolloutError,
) -> None:
    """Undo a failed rollout of ``name``: back to the previous revision, or remove a first
    deploy's objects. Reports the Warning Events; a failure to recover is a warning too."""
    for line in exc.events:
        ctx.emit_warning(f"{name}: {line}")
    previous = past.latest
    if previous is None:
        gone = delete_objects(api, ctx, applied.created)
        ctx.emit_warning(
            f"{name}: the first deploy failed; deleted what it created ({', '.join(gone)})"
        )
        return
    # Jobs are not re-run: a rollback restores long-running objects, not past migrations.
    restored = [o for o in previous.filled(env.open_secret) if o["kind"] != "Job"]
    before = {key(o) for o in restored}
    apply_objects(api, ctx, restored)
    delete_objects(api, ctx, [o for o in applied.created if key(o) not in before])
    try:
        await_objects(env, api, ctx, name, restored, fail_fast=False)
    except RolloutError as again:
        ctx.emit_warning(
            f"{name}: the rollback to revision {previous.number} did not settle: {again}"
        )
        return
    ctx.emit_warning(f"{name}: rolled back to revision {previous.number} (job {previous.job_id})")
