"""An action's steps run by the engine's runner, for an ``AwsInfraEngine`` given a state store.

With a store, a host that drives clusters through the ``InfraEngine`` interface gets what a job
run through ``Engine.run`` gets: the write-ahead journal (a call interrupted by a crash, run
again with the same job, resumes after its last finished step), the target lock
``cluster/<cluster id>`` (a second call on the same cluster waits ``wait_lock`` seconds, then
raises ``TargetLockedError``), rollback of what the call changed when a step fails, and events
to the host's sinks.

The journal is keyed by job id. An ``InfraEngine`` method may run an action other than the
job's own (``pause`` of a create job); its journal entry is then ``<job id>.<action>``, so that
pausing and resuming one cluster with one job document are two runs, not a replay of one. As
with ``Engine.run``, a job id names one run: calling again with a job that finished returns its
journalled outputs without redoing a step; a new run needs a new job id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from qengine import _errors
from qengine._errors import CancelledError, InfrastructureError, QengineError
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.events import EventSink
from qengine.interfaces.state import StateStore
from qengine.runner import Executor, JobRef, JobResult, JobStatus, Plan, Step
from qengine.spec import InfraAction, InfrastructureJob


def journal_id(job: InfrastructureJob, action: InfraAction) -> str:
    """The journal's id of ``action`` run for ``job``."""
    return job.id if job.action is action else f"{job.id}.{action.value}"


def run_journalled(
    steps: Sequence[Step],
    job: InfrastructureJob,
    action: InfraAction,
    *,
    store: StateStore,
    sinks: Sequence[EventSink],
    cancel: CancelToken,
    wait_lock: float,
) -> Mapping[str, Mapping[str, str]]:
    """Run ``steps`` under the runner; each step's outputs, or the failure raised."""
    ref = JobRef(
        job_id=journal_id(job, action),
        organization_id=job.organization.id,
        target_id=f"cluster/{job.cluster.id}",
    )
    executor = Executor(store=store, lock_wait_seconds=wait_lock)
    result = executor.run(Plan(list(steps)), ref, sinks=sinks, cancel=cancel)
    store.finish_job(ref.job_id, result.status.value)
    if result.status is not JobStatus.SUCCEEDED:
        raise _error_of(result)
    return result.outputs


def _error_of(result: JobResult) -> QengineError:
    """The failure of ``result`` as the error class the failing step raised, when known."""
    error = result.error
    message = error.message if error is not None else f"the job {result.status.value}"
    hint = (error.hint if error is not None else "") or None
    if result.status is JobStatus.CANCELLED:
        return CancelledError(message, hint=hint)
    found = getattr(_errors, error.kind, None) if error is not None and error.kind else None
    if (
        isinstance(found, type)
        and issubclass(found, QengineError)
        and found is not _errors.SpecError  # built from issues, not a message
    ):
        return found(message, hint=hint)
    return InfrastructureError(message, hint=hint)
