"""What a create would change on AWS, for ``qengine plan``: reads, and Terraform's own plan.

- the preflight step checks only: it changes nothing;
- the state step's KMS key, bucket and lock table are looked up (describe and head calls):
  each missing one is to create (an existing bucket's settings are not compared);
- the apply step is ``terraform plan`` of the blueprint the job would apply, read back with
  ``terraform show -json`` (see :mod:`qengine.terraform.preview`): against the cluster's
  state when the bucket exists (Terraform takes and releases its state lock, as any plan
  does), else against an empty state (no backend: every resource is to create);
- the add-on stack and the other actions (upgrade, pause, resume, delete) are not previewed.

Terraform needs the job's AWS credentials to plan: they are opened as a run opens them, held
in memory and served to Terraform by the run's credential endpoint; no value is shown.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qengine.plugin import CancelToken, QengineError
from qengine.runner import Step
from qengine.runner.plan import ObjectDiff, StepPreview, Verdict
from qengine.spec import InfraAction
from qengine.terraform import Terraform, Workspace
from qengine.terraform.preview import preview_plan, without_backend
from qengine_aws.actions import PREFLIGHT, STATE, AwsJob
from qengine_aws.blueprint import BlueprintOptions
from qengine_aws.credential_endpoint import CredentialEndpoint
from qengine_aws.preflight import caller_identity
from qengine_aws.state_backend import (
    STATE_KEY_ALIAS,
    StateLocation,
    _bucket_exists,
    default_bucket,
    state_key,
)
from qengine_aws.terraform_run import backend_config

APPLY = "aws.apply"


def preview_steps(aws: AwsJob, steps: Sequence[Step]) -> dict[str, StepPreview]:
    """What each of the job's ``steps`` would change; steps not previewed say why."""
    ids = [step.id for step in steps]
    if aws.job.action is not InfraAction.CREATE:
        why = f"a {aws.job.action.value} is not previewed"
        return {i: StepPreview.not_known(why) for i in ids}
    out: dict[str, StepPreview] = {
        i: StepPreview.not_known("the add-on stack is not previewed")
        for i in ids
        if i.startswith("addons.")
    }
    if PREFLIGHT in ids:
        out[PREFLIGHT] = StepPreview(note="checks only: changes nothing")
    try:
        location, found = _state_backend(aws)
    except QengineError as exc:
        why = f"AWS could not be asked: {exc.message}"
        return {**out, **{i: StepPreview.not_known(why) for i in (STATE, APPLY) if i in ids}}
    if STATE in ids:
        out[STATE] = StepPreview(objects=found, note="an existing bucket's settings not compared")
    if APPLY in ids:
        exists = all(o.action is Verdict.UNCHANGED for o in found)
        out[APPLY] = _apply_preview(aws, location if exists else None)
    return out


def _state_backend(aws: AwsJob) -> tuple[StateLocation, tuple[ObjectDiff, ...]]:
    provider: Any = aws.job.cluster.provider
    access, spec = aws.access, provider.state
    account = caller_identity(access).account
    key_arn = spec.kms_key_arn
    objects: list[ObjectDiff] = []
    if not key_arn:
        kms = access.client("kms")
        described = access.unless_absent(
            "looking up the state KMS key",
            lambda: kms.describe_key(KeyId=STATE_KEY_ALIAS),
            "NotFoundException",
        )
        key_arn = str(described["KeyMetadata"]["Arn"]) if described else ""
        objects.append(_found(described is not None, "kms-key", STATE_KEY_ALIAS))
    bucket = spec.bucket or default_bucket(account, access.region)
    objects.append(_found(_bucket_exists(access, access.client("s3"), bucket), "s3-bucket", bucket))
    dynamodb = access.client("dynamodb")
    table = access.unless_absent(
        f"looking up the lock table {spec.lock_table}",
        lambda: dynamodb.describe_table(TableName=spec.lock_table),
        "ResourceNotFoundException",
    )
    objects.append(_found(table is not None, "dynamodb-table", spec.lock_table))
    location = StateLocation(
        bucket=bucket,
        key=state_key(aws.job.cluster.id),
        region=access.region,
        lock_table=spec.lock_table,
        kms_key_arn=key_arn,
    )
    return location, tuple(objects)


def _found(exists: bool, kind: str, name: str) -> ObjectDiff:
    return ObjectDiff(action=Verdict.UNCHANGED if exists else Verdict.CREATE, kind=kind, name=name)


def _apply_preview(aws: AwsJob, location: StateLocation | None) -> StepPreview:
    module = aws.module(BlueprintOptions())
    try:
        with _terraform(aws, module, location) as tf:
            objects = preview_plan(tf)
    except QengineError as exc:
        return StepPreview.not_known(f"terraform plan failed: {exc.message}")
    note = "" if location is not None else "no Terraform state yet: planned against an empty one"
    return StepPreview(objects=objects, note=note)


@contextmanager
def _terraform(
    aws: AwsJob, module: dict[str, Any], location: StateLocation | None
) -> Iterator[Terraform]:
    """An initialised driver over ``module``: on the cluster's state backend, or, with no
    ``location``, on an empty local state (the module's backend left out)."""
    access = aws.access
    if location is None:
        module = without_backend(module)
    lease = access.settings.credential_lease_seconds
    with CredentialEndpoint(access.current_keys, lease_seconds=lease) as endpoint:
        child = endpoint.child_environment(access.region)
        with Workspace.create(sources=aws.terraform.sources) as workspace:
            workspace.write_root_module(module)
            tf = Terraform(
                workspace, cancel=CancelToken(), credentials=child.secret, env=child.plain
            )
            config = None if location is None else backend_config(location, _endpoint(aws))
            tf.init(config)
            yield tf


def _endpoint(aws: AwsJob) -> str | None:
    return aws.access.settings.endpoint_url
