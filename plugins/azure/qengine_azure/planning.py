"""What a create would change on Azure, for ``qengine plan``: reads, and Terraform's own plan.

- the preflight step checks only: it changes nothing;
- the state step's resource group, storage account and blob container are looked up: each
  missing one is to create (an existing account's settings are not compared);
- the apply step is ``terraform plan`` of the blueprint the job would apply, read back with
  ``terraform show -json`` (see :mod:`qengine.terraform.preview`): against the cluster's
  state when its container exists (Terraform takes and releases its blob lease, as any plan
  does), else against an empty state (no backend: every resource is to create);
- the add-on stack and the other actions (upgrade, pause, resume, delete) are not previewed.

Terraform needs the job's Azure credentials to plan: they are opened as a run opens them and
given to Terraform only; no value is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qengine.plugin import CancelToken, InfrastructureError, QengineError
from qengine.runner import Step, StepContext
from qengine.runner.plan import ObjectDiff, StepPreview, Verdict
from qengine.spec import InfraAction
from qengine.terraform import Terraform, Workspace
from qengine.terraform.preview import preview_plan, without_backend
from qengine_azure.actions import APPLY, PREFLIGHT, STATE, AzureJob
from qengine_azure.state_backend import StateLocation, state_location, storage_client
from qengine_azure.terraform_run import run_environment, terraform_for


def preview_steps(azure: AzureJob, steps: Sequence[Step]) -> dict[str, StepPreview]:
    """What each of the job's ``steps`` would change; steps not previewed say why."""
    ids = [step.id for step in steps]
    if azure.job.action is not InfraAction.CREATE:
        why = f"a {azure.job.action.value} is not previewed"
        return {i: StepPreview.not_known(why) for i in ids}
    out: dict[str, StepPreview] = {
        i: StepPreview.not_known("the add-on stack is not previewed")
        for i in ids
        if i.startswith("addons.")
    }
    if PREFLIGHT in ids:
        out[PREFLIGHT] = StepPreview(note="checks only: changes nothing")
    location = state_location(azure.access.provider, azure.job.cluster.id)
    try:
        found = _state_backend(azure, location)
    except QengineError as exc:
        why = f"Azure could not be asked: {exc.message}"
        return {**out, **{i: StepPreview.not_known(why) for i in (STATE, APPLY) if i in ids}}
    if STATE in ids:
        out[STATE] = StepPreview(objects=found, note="an existing account's settings not compared")
    if APPLY in ids:
        exists = all(o.action is Verdict.UNCHANGED for o in found)
        out[APPLY] = _apply_preview(azure, location if exists else None)
    return out


def _state_backend(azure: AzureJob, location: StateLocation) -> tuple[ObjectDiff, ...]:
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from azure.mgmt.resource.resources import ResourceManagementClient

    access = azure.access
    group, account = location.resource_group, location.storage_account

    def found(kind: str, name: str, read: Callable[[], Any]) -> ObjectDiff:
        try:
            read()
        except ResourceNotFoundError:
            return ObjectDiff(action=Verdict.CREATE, kind=kind, name=name)
        return ObjectDiff(action=Verdict.UNCHANGED, kind=kind, name=name)

    try:
        resources = ResourceManagementClient(
            access.credential(),
            access.provider.subscription_id,
            base_url=access.settings.arm_endpoint,
            credential_scopes=[access.settings.arm_scope],
            **access.client_options(),
        )
        storage = storage_client(access)
        objects = [found("resource-group", group, lambda: resources.resource_groups.get(group))]
        if objects[0].action is Verdict.CREATE:
            return (
                *objects,
                ObjectDiff(action=Verdict.CREATE, kind="storage-account", name=account),
                ObjectDiff(action=Verdict.CREATE, kind="blob-container", name=location.container),
            )
        objects.append(
            found(
                "storage-account",
                account,
                lambda: storage.storage_accounts.get_properties(group, account),
            )
        )
        if objects[1].action is Verdict.CREATE:
            container = ObjectDiff(
                action=Verdict.CREATE, kind="blob-container", name=location.container
            )
            return (*objects, container)
        objects.append(
            found(
                "blob-container",
                location.container,
                lambda: storage.blob_containers.get(group, account, location.container),
            )
        )
    except HttpResponseError as exc:
        raise InfrastructureError(
            f"Azure refused to read the Terraform state account {account}: {exc.message}"
        ) from exc
    return tuple(objects)


def _apply_preview(azure: AzureJob, location: StateLocation | None) -> StepPreview:
    try:
        with _terraform(azure, azure.module(), location) as tf:
            objects = preview_plan(tf)
    except QengineError as exc:
        return StepPreview.not_known(f"terraform plan failed: {exc.message}")
    note = "" if location is not None else "no Terraform state yet: planned against an empty one"
    return StepPreview(objects=objects, note=note)


@contextmanager
def _terraform(
    azure: AzureJob, module: dict[str, Any], location: StateLocation | None
) -> Iterator[Terraform]:
    """An initialised driver over ``module``: on the cluster's state as a run's, or, with no
    ``location``, on an empty local state (the module's backend left out)."""
    access = azure.access
    if location is not None:
        with terraform_for(
            _context(azure),
            access,
            module,
            location,
            allow_destructive=False,
            sources=azure.terraform.sources,
        ) as tf:
            yield tf
        return
    with (
        run_environment(access) as (env, credentials),
        Workspace.create(sources=azure.terraform.sources) as workspace,
    ):
        workspace.write_root_module(without_backend(module))
        tf = Terraform(workspace, cancel=CancelToken(), credentials=credentials, env=env)
        tf.init()
        yield tf


def _context(azure: AzureJob) -> StepContext:
    """The context the run's Terraform helper takes, outside any run (its log is dropped)."""
    job = azure.job
    return StepContext(
        job_id=job.id,
        organization_id=job.organization.id,
        target_id=f"cluster/{job.cluster.id}",
        step_id=APPLY,
        idempotency_key="plan",
        cancel=CancelToken(),
    )
