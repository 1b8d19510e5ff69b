"""Pod templates: the container, its environment, files, probes and the Secrets they need."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from qengine.spec import (
    EnvVarName,
    MountedFile,
    PortSpec,
    Probe,
    ProbeType,
    Protocol,
    Resources,
    SecretRef,
)
from qengine.spec import Value as SpecValue
from qengine_kubernetes.render import names
from qengine_kubernetes.render.context import Manifest, RenderContext
from qengine_kubernetes.render.secrets import HASH_ANNOTATION, opaque_secret, secrets_hash


@attrs.frozen(kw_only=True)
class PodInputs:
    """Everything of a service that shapes its pod."""

    service: str
    image: str
    labels: Mapping[str, str]
    env: Mapping[EnvVarName, SpecValue] = attrs.field(factory=dict)
    files: Sequence[MountedFile] = ()
    command: Sequence[str] = ()
    args: Sequence[str] = ()
    resources: Resources = attrs.field(factory=Resources)
    ports: Sequence[PortSpec] = ()
    readiness: Probe | None = None
    liveness: Probe | None = None
    mounts: Sequence[Manifest] = ()
    volumes: Sequence[Manifest] = ()
    extra_env: Sequence[Manifest] = ()
    pull_secret: str | None = None
    service_account: str | None = None
    restart_policy: str | None = None
    termination_message_path: str | None = None
    # Secrets the pod reads that are rendered elsewhere (a database's credentials): their
    # values count in the pod's secret hash.
    read_secrets: Sequence[Manifest] = ()


@attrs.frozen(kw_only=True)
class PodParts:
    """A pod template and the Secrets and ConfigMaps it needs."""

    template: Manifest
    objects: tuple[Manifest, ...]


def port_name(port: PortSpec) -> str:
    """The port's name, or ``port-<number>`` (container port names are at most 15 long)."""
    return port.name or f"port-{port.port}"


def port_protocol(port: PortSpec) -> str:
    """The transport protocol Kubernetes knows: UDP, or TCP for everything else."""
    return "UDP" if port.protocol is Protocol.UDP else "TCP"


def resources(spec: Resources) -> Manifest:
    """Requests and limits, omitting what the spec leaves unset."""
    requests = {k: v for k, v in (("cpu", spec.cpu), ("memory", spec.memory)) if v}
    limits = {k: v for k, v in (("cpu", spec.cpu_limit), ("memory", spec.memory_limit)) if v}
    return {k: v for k, v in (("requests", requests), ("limits", limits)) if v}


def probe(spec: Probe, default_port: int | None) -> Manifest:
    """A Kubernetes probe of the given type; ``default_port`` when the probe names none."""
    port = spec.port or default_port
    action: Manifest
    if spec.type is ProbeType.HTTP:
        action = {"httpGet": {"path": spec.path or "/", "port": port}}
    elif spec.type is ProbeType.TCP:
        action = {"tcpSocket": {"port": port}}
    elif spec.type is ProbeType.GRPC:
        action = {"grpc": {"port": port}}
    else:
        action = {"exec": {"command": list(spec.command)}}
    return {
        **action,
        "initialDelaySeconds": spec.initial_delay_seconds,
        "periodSeconds": spec.period_seconds,
        "timeoutSeconds": spec.timeout_seconds,
        "failureThreshold": spec.failure_threshold,
    }


def _env(ctx: RenderContext, inputs: PodInputs) -> tuple[list[Manifest], Manifest | None]:
    entries: list[Manifest] = list(inputs.extra_env)
    values: dict[str, str] = {}
    secret_name = names.env_secret(inputs.service)
    for name in sorted(inputs.env):
        value = inputs.env[name]
        if isinstance(value, SecretRef):
            values[name] = ctx.open_secret(value.secret)
            ref = {"name": secret_name, "key": name}
            entries.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
        else:
            entries.append({"name": name, "value": value})
    secret = opaque_secret(ctx, secret_name, inputs.labels, values) if values else None
    return entries, secret


def file_key(path: str) -> str:
    """The key of a mounted file in its ConfigMap or Secret: its base name and a digest."""
    base = "".join(c if c.isalnum() or c in "-._" else "-" for c in path.rsplit("/", 1)[-1])
    return f"{base or 'file'}-{names.short_hash(path, 6)}"


def _files(
    ctx: RenderContext, inputs: PodInputs
) -> tuple[Manifest | None, list[Manifest], Manifest | None]:
    """The files object (Secret if any file is secret), its mounts and its volume."""
    if not inputs.files:
        return None, [], None
    data = {file_key(f.path): ctx.value(f.content) for f in inputs.files}
    secret = any(isinstance(f.content, SecretRef) for f in inputs.files)
    name = names.files_object(inputs.service)
    mounts = [
        {
            "name": names.FILES_VOLUME,
            "mountPath": f.path,
            "subPath": file_key(f.path),
            "readOnly": True,
        }
        for f in sorted(inputs.files, key=lambda f: f.path)
    ]
    if secret:
        obj = opaque_secret(ctx, name, inputs.labels, data)
        volume = {"name": names.FILES_VOLUME, "secret": {"secretName": name}}
    else:
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": ctx.metadata(name, inputs.labels),
            "data": dict(sorted(data.items())),
        }
        volume = {"name": names.FILES_VOLUME, "configMap": {"name": name}}
    return obj, mounts, volume


def _container(inputs: PodInputs, env: list[Manifest], mounts: list[Manifest]) -> Manifest:
    default_port = inputs.ports[0].port if inputs.ports else None
    container: Manifest = {"name": inputs.service, "image": inputs.image}
    optional: dict[str, object] = {
        "command": list(inputs.command),
        "args": list(inputs.args),
        "ports": [
            {"name": port_name(p), "containerPort": p.port, "protocol": port_protocol(p)}
            for p in inputs.ports
        ],
        "env": env,
        "resources": resources(inputs.resources),
        "volumeMounts": mounts,
        "readinessProbe": probe(inputs.readiness, default_port) if inputs.readiness else None,
        "livenessProbe": probe(inputs.liveness, default_port) if inputs.liveness else None,
        "terminationMessagePath": inputs.termination_message_path,
    }
    container.update({k: v for k, v in optional.items() if v})
    return container


def pod_template(ctx: RenderContext, inputs: PodInputs) -> PodParts:
    """The pod template of ``inputs`` and the objects it reads (Secrets, ConfigMap)."""
    env, env_secret = _env(ctx, inputs)
    files, file_mounts, files_volume = _files(ctx, inputs)
    objects = [o for o in (env_secret, files) if o is not None]
    mounts = [*inputs.mounts, *file_mounts]
    volumes = [*inputs.volumes, *([files_volume] if files_volume else [])]
    spec: Manifest = {
        "automountServiceAccountToken": False,
        "containers": [_container(inputs, env, mounts)],
    }
    if inputs.service_account:
        spec["serviceAccountName"] = inputs.service_account
    if volumes:
        spec["volumes"] = sorted(volumes, key=lambda v: str(v["name"]))
    if inputs.pull_secret:
        spec["imagePullSecrets"] = [{"name": inputs.pull_secret}]
    if inputs.restart_policy:
        spec["restartPolicy"] = inputs.restart_policy
    metadata: Manifest = {"labels": dict(inputs.labels)}
    read = [o for o in (*objects, *inputs.read_secrets) if o["kind"] == "Secret"]
    if read:
        metadata["annotations"] = {HASH_ANNOTATION: secrets_hash(ctx, read)}
    return PodParts(template={"metadata": metadata, "spec": spec}, objects=tuple(objects))
