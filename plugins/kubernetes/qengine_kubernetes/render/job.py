"""Job services: a Job run once per deploy or at a lifecycle hook, or a CronJob.

A run-once Job is named ``<service>-<digest of its spec>``: Jobs are immutable, so a changed
job is a new Job and an unchanged one is found again (and not re-run) by name. The annotation
``qengine.dev/hook`` says when the engine runs it.

Output protocol: a job may write a JSON object of string values to
``/qengine/output/output.json`` (an ``emptyDir`` is mounted at ``/qengine/output``). That path is
also the container's ``terminationMessagePath``, so the kubelet copies the file (up to 4096
bytes) into the pod's status when the container ends, where the engine reads it; names must
match the job's ``output_name_pattern``.
"""

from __future__ import annotations

import json

from qengine.spec import JobService, JobTrigger, parse_duration
from qengine_kubernetes.render import names
from qengine_kubernetes.render.context import Manifest, RenderContext
from qengine_kubernetes.render.images import image_reference
from qengine_kubernetes.render.labels import service_labels
from qengine_kubernetes.render.pod import PodInputs, pod_template

HOOK_ANNOTATION = "qengine.dev/hook"
OUTPUT_DIR = "/qengine/output"
OUTPUT_FILE = f"{OUTPUT_DIR}/output.json"


def job_image(ctx: RenderContext, service: JobService) -> str:
    """The image a job runs: its own reference, or the one built from its git source."""
    if service.image is not None:
        return image_reference(service.image, service.tag, None)
    return ctx.built_image(service.name)


def render_job(ctx: RenderContext, service: JobService) -> list[Manifest]:
    """The Job or CronJob of ``service`` and the Secrets and ConfigMap its pod reads."""
    labels = service_labels(ctx.environment, service.name)
    inputs = PodInputs(
        service=service.name,
        image=job_image(ctx, service),
        labels=labels,
        env=service.env,
        files=service.files,
        command=service.command,
        args=service.args,
        resources=service.resources,
        mounts=[{"name": names.OUTPUT_VOLUME, "mountPath": OUTPUT_DIR}],
        volumes=[{"name": names.OUTPUT_VOLUME, "emptyDir": {}}],
        restart_policy="Never",
        termination_message_path=OUTPUT_FILE,
    )
    pod = pod_template(ctx, inputs)
    spec: Manifest = {
        "backoffLimit": service.max_restarts,
        "activeDeadlineSeconds": int(parse_duration(service.max_duration)),
        "template": pod.template,
    }
    if service.schedule.on is JobTrigger.CRON:
        workload = _cron_job(ctx, service, spec)
    else:
        digest = _spec_digest(spec)
        metadata = ctx.metadata(names.job_name(service.name, digest), labels)
        metadata["annotations"] = {HOOK_ANNOTATION: service.schedule.on.value}
        workload = {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}
    return [workload, *pod.objects]


def _spec_digest(spec: Manifest) -> str:
    """The digest of a Job's spec without its secret hash: a new secret value updates the
    job's Secret but does not make a new Job, so an export names the Job the same."""
    template = spec["template"]
    bare = {
        **spec,
        "template": {**template, "metadata": {"labels": template["metadata"]["labels"]}},
    }
    return names.short_hash(json.dumps(bare, sort_keys=True, separators=(",", ":")))


def _cron_job(ctx: RenderContext, service: JobService, job_spec: Manifest) -> Manifest:
    schedule = service.schedule
    labels = service_labels(ctx.environment, service.name)
    spec: Manifest = {
        "schedule": schedule.cron,
        "concurrencyPolicy": schedule.concurrency_policy.value,
        "successfulJobsHistoryLimit": schedule.successful_jobs_history,
        "failedJobsHistoryLimit": schedule.failed_jobs_history,
        "jobTemplate": {"metadata": {"labels": dict(labels)}, "spec": job_spec},
    }
    if schedule.timezone:
        spec["timeZone"] = schedule.timezone
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": ctx.metadata(service.name, labels),
        "spec": spec,
    }
