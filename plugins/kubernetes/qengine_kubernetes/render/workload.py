"""Application and container services: a Deployment (or StatefulSet), Service, ServiceAccount,
and optionally a HorizontalPodAutoscaler and a PodDisruptionBudget."""

from __future__ import annotations

from collections.abc import Mapping

from qengine.spec import ApplicationService, ContainerService
from qengine_kubernetes.placeholders import registry_pull_token
from qengine_kubernetes.render.context import Manifest, RenderContext
from qengine_kubernetes.render.images import container_image, pull_secret, registry_pull_secret
from qengine_kubernetes.render.labels import selector, service_labels
from qengine_kubernetes.render.pod import PodInputs, pod_template, port_name, port_protocol

LongRunningService = ApplicationService | ContainerService


def render_workload(ctx: RenderContext, service: LongRunningService) -> list[Manifest]:
    """Every object of an application or container service, workload first."""
    labels = service_labels(ctx.environment, service.name)
    if isinstance(service, ContainerService):
        image = container_image(service)
        auth = service.registry_auth
    else:
        image = ctx.built_image(service.name)
        auth = None
    pull = pull_secret(ctx, service.name, image, auth, labels) if auth else None
    read: list[Manifest] = []
    if isinstance(service, ApplicationService) and ctx.registry_pull is not None:
        pull = registry_pull_secret(ctx, service.name, ctx.registry_pull, labels)
        # A password counts in the secret hash: a rotated registry password rolls the pods. A
        # short-lived token does not: pods name the Secret only, so a renewed token (written
        # by the deploy step, never rendered) restarts nothing.
        if ctx.registry_pull != registry_pull_token():
            read.append(pull)
    inputs = PodInputs(
        service=service.name,
        image=image,
        labels=labels,
        env=service.env,
        files=service.files,
        command=service.command,
        args=service.args,
        resources=service.resources,
        ports=service.ports,
        readiness=service.readiness_probe,
        liveness=service.liveness_probe,
        mounts=[{"name": v.name, "mountPath": v.mount_path} for v in service.volumes],
        pull_secret=pull["metadata"]["name"] if pull else None,
        service_account=service.name,
        read_secrets=read,
    )
    pod = pod_template(ctx, inputs)
    objects = [_workload(ctx, service, labels, pod.template), _service_account(ctx, service.name)]
    if service.ports:
        objects.append(_service(ctx, service, labels))
    if service.autoscaling:
        objects.append(_autoscaler(ctx, service, labels))
    if service.min_available is not None:
        objects.append(_disruption_budget(ctx, service, labels))
    return [*objects, *pod.objects, *([pull] if pull else [])]


def _workload(
    ctx: RenderContext, service: LongRunningService, labels: Mapping[str, str], template: Manifest
) -> Manifest:
    spec: Manifest = {
        "selector": {"matchLabels": selector(ctx.environment, service.name)},
        "template": template,
    }
    # With an autoscaler the replica count is the autoscaler's: applying it would fight it.
    if service.autoscaling is None:
        spec["replicas"] = service.replicas
    kind = "StatefulSet" if service.volumes else "Deployment"
    if kind == "StatefulSet":
        spec["serviceName"] = service.name
        spec["volumeClaimTemplates"] = [
            volume_claim(v.name, v.size, v.storage_class) for v in service.volumes
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": ctx.metadata(service.name, labels),
        "spec": spec,
    }


def volume_claim(name: str, size: str, storage_class: str | None) -> Manifest:
    """A volumeClaimTemplate of one ReadWriteOnce volume."""
    spec: Manifest = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": name}, "spec": spec}


def _service_account(ctx: RenderContext, name: str) -> Manifest:
    labels = service_labels(ctx.environment, name)
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": ctx.metadata(name, labels),
        "automountServiceAccountToken": False,
    }


def _service(
    ctx: RenderContext, service: LongRunningService, labels: Mapping[str, str]
) -> Manifest:
    ports = [
        {
            "name": port_name(p),
            "port": p.port,
            "targetPort": port_name(p),
            "protocol": port_protocol(p),
        }
        for p in service.ports
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ctx.metadata(service.name, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(ctx.environment, service.name),
            "ports": ports,
        },
    }


def _autoscaler(
    ctx: RenderContext, service: LongRunningService, labels: Mapping[str, str]
) -> Manifest:
    scaling = service.autoscaling
    assert scaling is not None
    metrics = [
        {
            "type": "Resource",
            "resource": {
                "name": resource,
                "target": {"type": "Utilization", "averageUtilization": target},
            },
        }
        for resource, target in (
            ("cpu", scaling.cpu_target_percent),
            ("memory", scaling.memory_target_percent),
        )
        if target is not None
    ]
    spec: Manifest = {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet" if service.volumes else "Deployment",
            "name": service.name,
        },
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
    }
    if metrics:
        spec["metrics"] = metrics
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": ctx.metadata(service.name, labels),
        "spec": spec,
    }


def _disruption_budget(
    ctx: RenderContext, service: LongRunningService, labels: Mapping[str, str]
) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": ctx.metadata(service.name, labels),
        "spec": {
            "minAvailable": service.min_available,
            "selector": {"matchLabels": selector(ctx.environment, service.name)},
        },
    }
