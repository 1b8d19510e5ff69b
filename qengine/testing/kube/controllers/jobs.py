"""The Job and CronJob controllers.

A Job runs up to ``parallelism`` pods until ``completions`` succeed (condition Complete) or
more than ``backoffLimit`` fail (condition Failed, reason BackoffLimitExceeded). A CronJob
creates a Job at each scheduled time of the simulator's clock (``sim.clock.advance``), and
keeps ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit`` finished Jobs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from qengine.testing.kube import recorder
from qengine.testing.kube.clock import parse_stamp
from qengine.testing.kube.controllers.common import (
    CONTROLLER,
    get_condition,
    owned,
    owner_ref,
    pod_from_template,
    random_suffix,
    rtype,
    set_condition,
    with_status,
)
from qengine.testing.kube.controllers.cron import CronSchedule
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.deletion import remove_now
from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi

JSON = dict[str, Any]


def reconcile_jobs(api: ObjectApi, work: Work) -> None:
    """One pass over the Jobs in ``work`` (caller holds the store lock)."""
    for job in work.objects(rtype(api, "batch", "jobs").key, lambda j: not _finished(j)):
        if not job["metadata"].get("deletionTimestamp") and not _finished(job):
            _sync_job(api, job)


def _finished(job: JSON) -> bool:
    return any(
        (get_condition(job, t) or {}).get("status") == "True" for t in ("Complete", "Failed")
    )


def _sync_job(api: ObjectApi, job: JSON) -> None:
    spec = job["spec"]
    pods = owned(api, job, "", "pods")
    phases = [p.get("status", {}).get("phase", "Pending") for p in pods]
    succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
    active = [p for p, ph in zip(pods, phases, strict=True) if ph not in ("Succeeded", "Failed")]
    completions = int(spec.get("completions") or 1)
    now = api.store.clock.stamp()
    status = clone(job.get("status") or {})
    status.setdefault("startTime", now)
    if succeeded >= completions:
        for pod in active:
            remove_now(api, rtype(api, "", "pods"), pod)
        active = []
        set_condition(
            status,
            "SuccessCriteriaMet",
            "True",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
        )
        set_condition(
            status,
            "Complete",
            "True",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
        )
        status["completionTime"] = now
        recorder.record(api, job, "Normal", "Completed", "Job completed", "job-controller")
    elif failed > int(spec.get("backoffLimit", 6)):
        for pod in active:
            remove_now(api, rtype(api, "", "pods"), pod)
        active = []
        set_condition(
            status,
            "FailureTarget",
            "True",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            now,
        )
        set_condition(
            status,
            "Failed",
            "True",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            now,
        )
        recorder.record(
            api,
            job,
            "Warning",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            "job-controller",
        )
    elif not spec.get("suspend"):
        want = min(int(spec.get("parallelism") or 1), completions - succeeded) - len(active)
        for _ in range(max(0, want)):
            _create_pod(api, job)
        active = [
            p
            for p in owned(api, job, "", "pods")
            if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]
    for cond in status.get("conditions") or []:
        cond.pop("lastUpdateTime", None)
        cond.setdefault("lastProbeTime", now)
    status.update(
        active=len(active),
        succeeded=succeeded,
        failed=failed,
        ready=sum(1 for p in active if (get_condition(p, "Ready") or {}).get("status") == "True"),
    )
    status = {k: v for k, v in status.items() if v or k == "ready"}
    api.commit_raw(rtype(api, "batch", "jobs"), with_status(job, status))


def _create_pod(api: ObjectApi, job: JSON) -> None:
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    pod_name = f"{name}-{random_suffix(api)}"
    pod = pod_from_template(job, job["spec"].get("template") or {}, pod_name, labels)
    api.create(rtype(api, "", "pods"), job["metadata"]["namespace"], pod, CONTROLLER)
    recorder.record(
        api, job, "Normal", "SuccessfulCreate", f"Created pod: {pod_name}", "job-controller"
    )


# -- CronJobs --------------------------------------------------------------------------------


def reconcile_cronjobs(api: ObjectApi, work: Work) -> None:
    """One pass over every CronJob, since their schedules run on the clock."""
    for cron in work.objects(rtype(api, "batch", "cronjobs").key, lambda c: True):
        if not cron["metadata"].get("deletionTimestamp"):
            _sync_cron(api, cron)


def _sync_cron(api: ObjectApi, cron: JSON) -> None:
    jobs = owned(api, cron, "batch", "jobs")
    active = [j for j in jobs if not _finished(j)]
    status = clone(cron.get("status") or {})
    spec = cron["spec"]
    due = _due_time(api, cron)
    if due is not None and not spec.get("suspend"):
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Replace":
            for job in active:
                remove_now(api, rtype(api, "batch", "jobs"), job)
            active = []
        if policy != "Forbid" or not active:
            active.append(_create_job(api, cron, due))
        status["lastScheduleTime"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
    done = [j for j in jobs if (get_condition(j, "Complete") or {}).get("status") == "True"]
    if done:
        status["lastSuccessfulTime"] = max(j["status"].get("completionTime", "") for j in done)
    _trim_history(api, cron, jobs)
    status["active"] = [
        {
            "kind": "Job",
            "namespace": j["metadata"]["namespace"],
            "name": j["metadata"]["name"],
            "uid": j["metadata"]["uid"],
            "apiVersion": "batch/v1",
        }
        for j in active
    ]
    if not status["active"]:
        del status["active"]
    api.commit_raw(rtype(api, "batch", "cronjobs"), with_status(cron, status))


def _due_time(api: ObjectApi, cron: JSON) -> datetime | None:
    last = cron.get("status", {}).get("lastScheduleTime") or cron["metadata"]["creationTimestamp"]
    schedule = CronSchedule.parse(str(cron["spec"].get("schedule", "")))
    after = datetime.fromtimestamp(parse_stamp(last), UTC)
    now = api.store.clock.now()
    due = None
    candidate = schedule.next_after(after)
    # Like the real controller, only the most recent missed time is run.
    while candidate is not None and candidate <= now:
        due = candidate
        candidate = schedule.next_after(candidate)
    return due


def _create_job(api: ObjectApi, cron: JSON, due: datetime) -> JSON:
    template = clone(cron["spec"].get("jobTemplate") or {})
    name = f"{cron['metadata']['name']}-{int(due.timestamp() // 60)}"
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": cron["metadata"]["namespace"],
            "labels": dict(template.get("metadata", {}).get("labels") or {}),
            "annotations": {
                "batch.kubernetes.io/cronjob-scheduled-timestamp": due.strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
            },
            "ownerReferences": [owner_ref(cron)],
        },
        "spec": template.get("spec") or {},
    }
    created = api.create(
        rtype(api, "batch", "jobs"), cron["metadata"]["namespace"], job, CONTROLLER
    )
    recorder.record(
        api, cron, "Normal", "SuccessfulCreate", f"Created job {name}", "cronjob-controller"
    )
    return created


def _trim_history(api: ObjectApi, cron: JSON, jobs: list[JSON]) -> None:
    limits = {
        "Complete": cron["spec"].get("successfulJobsHistoryLimit", 3),
        "Failed": cron["spec"].get("failedJobsHistoryLimit", 1),
    }
    for ctype, limit in limits.items():
        finished = [j for j in jobs if (get_condition(j, ctype) or {}).get("status") == "True"]
        for job in finished[: max(0, len(finished) - int(limit))]:
            remove_now(api, rtype(api, "batch", "jobs"), job)
