"""The Job and CronJob controllers.

A Job runs up to ``parallelism`` pods until ``completions`` succeed (conditions
SuccessCriteriaMet and Complete), or fails (conditions FailureTarget and Failed): reason
BackoffLimitExceeded when more than ``backoffLimit`` pods failed (with ``restartPolicy:
OnFailure``, when its pods' container restarts reach it), DeadlineExceeded when it ran
``activeDeadlineSeconds``. A failed pod is replaced after the controller's back-off (10 s,
doubling per failure up to 10 minutes), all on the simulator's clock: the Job documentation's
"Pod backoff failure policy" and ``pkg/controller/job`` of Kubernetes 1.31. A CronJob
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
POD_FAILURE_BACKOFF = 10.0
POD_FAILURE_MAX_BACKOFF = 600.0


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
    if not spec.get("suspend"):
        # The Job controller sets startTime when the Job first runs, never while suspended.
        status.setdefault("startTime", now)
    failure = _failure(api, job, status, pods, failed, active)
    if succeeded >= completions:
        _end_pods(api, active)
        active = []
        message = "Reached expected number of succeeded pods"
        for ctype in ("SuccessCriteriaMet", "Complete"):
            set_condition(status, ctype, "True", "CompletionsReached", message, now)
        status["completionTime"] = now
        recorder.record(api, job, "Normal", "Completed", "Job completed", "job-controller")
    elif failure is not None:
        reason, message = failure
        # Pods the controller ends count as failed, as the real tracking counts them.
        failed += len(active)
        _end_pods(api, active)
        active = []
        for ctype in ("FailureTarget", "Failed"):
            set_condition(status, ctype, "True", reason, message, now)
        recorder.record(api, job, "Warning", reason, message, "job-controller")
    elif not spec.get("suspend") and _backoff_over(api, pods):
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
        terminating=sum(1 for p in active if p["metadata"].get("deletionTimestamp")),
        uncountedTerminatedPods={},
    )
    kept = ("ready", "terminating", "uncountedTerminatedPods")
    status = {k: v for k, v in status.items() if v or k in kept}
    api.commit_raw(rtype(api, "batch", "jobs"), with_status(job, status))


def _failure(
    api: ObjectApi, job: JSON, status: JSON, pods: list[JSON], failed: int, active: list[JSON]
) -> tuple[str, str] | None:
    """Why the Job fails now, if it does: its active deadline passed, or its back-off limit
    (failed pods beyond ``backoffLimit``; with ``OnFailure``, container restarts of its
    active pods reaching it), as the Job controller decides."""
    spec = job["spec"]
    deadline = spec.get("activeDeadlineSeconds")
    start = status.get("startTime")
    running_for = api.store.clock.time() - parse_stamp(str(start)) if start else 0.0
    if deadline is not None and start is not None and running_for >= int(deadline):
        return "DeadlineExceeded", "Job was active longer than specified deadline"
    limit = int(spec.get("backoffLimit", 6))
    exceeded = failed > limit
    if (spec.get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure":
        restarts = sum(
            int(c.get("restartCount", 0))
            for p in active
            for c in (p.get("status", {}).get("initContainerStatuses") or [])
            + (p.get("status", {}).get("containerStatuses") or [])
        )
        exceeded = exceeded or (restarts > 0 if limit == 0 else restarts >= limit)
    if exceeded:
        return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    return None


def _end_pods(api: ObjectApi, pods: list[JSON]) -> None:
    for pod in pods:
        remove_now(api, rtype(api, "", "pods"), pod)


def _backoff_over(api: ObjectApi, pods: list[JSON]) -> bool:
    """Whether the pod failure back-off lets the controller create pods now: after ``n``
    failures since the last success, 10 s doubling per failure up to 10 min, from the last
    failure (the Job controller's DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff)."""
    finished = sorted(
        (_finished_at(p), p.get("status", {}).get("phase"))
        for p in pods
        if p.get("status", {}).get("phase") in ("Succeeded", "Failed")
    )
    failures, last = 0, 0.0
    for when, phase in finished:
        failures, last = (failures + 1, when) if phase == "Failed" else (0, 0.0)
    if not failures:
        return True
    delay = min(POD_FAILURE_MAX_BACKOFF, POD_FAILURE_BACKOFF * float(2 ** min(failures - 1, 16)))
    return api.store.clock.time() >= last + delay


def _finished_at(pod: JSON) -> float:
    """When a finished pod ended: its containers' last finish, else its creation."""
    times = [
        parse_stamp(str(terminated["finishedAt"]))
        for c in pod.get("status", {}).get("containerStatuses") or []
        if (terminated := (c.get("state") or {}).get("terminated")) and terminated.get("finishedAt")
    ]
    return max(times) if times else parse_stamp(pod["metadata"]["creationTimestamp"])


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
