"""What a create would change on Google Cloud, for ``qengine plan``: reads, and Terraform's
own plan.

- the preflight step checks only: it changes nothing;
- the state step's bucket is looked up: missing, it is to create (an existing bucket's
  settings are not compared);
- the apply step is ``terraform plan`` of the blueprint the job would apply, read back with
  ``terraform show -json`` (see :mod:`qengine.terraform.preview`): against the cluster's
  state when the bucket exists (Terraform takes and releases its state lock, as any plan
  does), else against an empty state (no backend: every resource is to create);
- the add-on stack and the other actions (upgrade, pause, resume, delete) are not previewed.

Terraform needs the job's Google credentials to plan: tokens are made as a run makes them and
served to Terraform by the run's token endpoint; no value is shown.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qengine.plugin import CancelToken, QengineError
from qengine.runner import Step, StepContext
from qengine.runner.plan import ObjectDiff, StepPreview, Verdict
from qengine.spec import InfraAction
from qengine.terraform import Terraform, Workspace
from qengine.terraform.preview import preview_plan, without_backend
from qengine_gcp.actions import APPLY, PREFLIGHT, STATE, GcpJob
from qengine_gcp.blueprint import BlueprintOptions
from qengine_gcp.state_backend import (
    StateLocation,
    _lookup,
    default_bucket,
    state_prefix,
    storage_client,
)
from qengine_gcp.terraform_run import terraform_for
from qengine_gcp.token_endpoint import TokenEndpoint


def preview_steps(gcp: GcpJob, steps: Sequence[Step]) -> dict[str, StepPreview]:
    """What each of the job's ``steps`` would change; steps not previewed say why."""
    ids = [step.id for step in steps]
    if gcp.job.action is not InfraAction.CREATE:
        why = f"a {gcp.job.action.value} is not previewed"
        return {i: StepPreview.not_known(why) for i in ids}
    out: dict[str, StepPreview] = {
        i: StepPreview.not_known("the add-on stack is not previewed")
        for i in ids
        if i.startswith("addons.")
    }
    if PREFLIGHT in ids:
        out[PREFLIGHT] = StepPreview(note="checks only: changes nothing")
    provider: Any = gcp.job.cluster.provider
    name = provider.state.bucket or default_bucket(provider.project)
    try:
        exists = _lookup(gcp.access, storage_client(gcp.access), name) is not None
    except QengineError as exc:
        why = f"Google Cloud could not be asked: {exc.message}"
        return {**out, **{i: StepPreview.not_known(why) for i in (STATE, APPLY) if i in ids}}
    if STATE in ids:
        verdict = Verdict.UNCHANGED if exists else Verdict.CREATE
        bucket = ObjectDiff(action=verdict, kind="gcs-bucket", name=name)
        out[STATE] = StepPreview(
            objects=(bucket,), note="an existing bucket's settings not compared"
        )
    if APPLY in ids:
        location = StateLocation(bucket=name, prefix=state_prefix(gcp.job.cluster.id))
        out[APPLY] = _apply_preview(gcp, location if exists else None)
    return out


def _apply_preview(gcp: GcpJob, location: StateLocation | None) -> StepPreview:
    module = gcp.module(BlueprintOptions())
    try:
        with _terraform(gcp, module, location) as tf:
            objects = preview_plan(tf)
    except QengineError as exc:
        return StepPreview.not_known(f"terraform plan failed: {exc.message}")
    note = "" if location is not None else "no Terraform state yet: planned against an empty one"
    return StepPreview(objects=objects, note=note)


@contextmanager
def _terraform(
    gcp: GcpJob, module: dict[str, Any], location: StateLocation | None
) -> Iterator[Terraform]:
    """An initialised driver over ``module``: on the cluster's state bucket as a run's, or,
    with no ``location``, on an empty local state (the module's backend left out)."""
    access = gcp.access
    if location is not None:
        with terraform_for(
            _context(gcp),
            access,
            module,
            location,
            allow_destructive=False,
            sources=gcp.terraform.sources,
        ) as tf:
            yield tf
        return
    provider = access.provider
    endpoint = TokenEndpoint(
        access.token_and_expiry,
        project=provider.project,
        email=provider.service_account or "default",
        lease_seconds=access.settings.token_lease_seconds,
    )
    with endpoint, Workspace.create(sources=gcp.terraform.sources) as workspace:
        workspace.write_root_module(without_backend(module))
        tf = Terraform(workspace, cancel=CancelToken(), credentials=endpoint.child_credentials())
        tf.init()
        yield tf


def _context(gcp: GcpJob) -> StepContext:
    """The context the run's Terraform helper takes, outside any run (its log is dropped)."""
    job = gcp.job
    return StepContext(
        job_id=job.id,
        organization_id=job.organization.id,
        target_id=f"cluster/{job.cluster.id}",
        step_id=APPLY,
        idempotency_key="plan",
        cancel=CancelToken(),
    )
