"""The environment's own steps: its namespace (deployed first) and the pruning of services
removed from the spec (after every service).

Before the namespace is applied, a change of a live StatefulSet's storage is refused (see
``qengine_kubernetes.storage``), so such a job writes nothing.

Pruning finds the objects labelled with the environment id whose ``qengine.dev/service-id``
names no service of the spec, history Secrets included, and deletes them; a removed Helm
service's release is uninstalled with helm, and a removed router's DNS records are deleted
before its Ingress. Claims of removed services are kept unless the environment says
``delete_data``, with a warning naming them.
"""

from __future__ import annotations

from qengine.plugin import DeploymentError
from qengine.runner import StepContext
from qengine_kubernetes.apply import apply_objects, delete_objects
from qengine_kubernetes.client import KubeApi, NotFoundError
from qengine_kubernetes.dns import hosts_of, withdraw_hosts
from qengine_kubernetes.history import HISTORY_LABEL
from qengine_kubernetes.jobctx import EnvJob
from qengine_kubernetes.placeholders import secret_token
from qengine_kubernetes.render import Manifest, render_environment
from qengine_kubernetes.render.labels import ENVIRONMENT_ID, SERVICE_ID
from qengine_kubernetes.render.names import GATEWAY
from qengine_kubernetes.render.router import GATEWAY_API
from qengine_kubernetes.resources import ROUTE_KINDS, SERVICE_KINDS
from qengine_kubernetes.storage import check_storage

CREATED = "created"
CHANGED = "changed"


def deploy_namespace(env: EnvJob, ctx: StepContext) -> dict[str, str]:
    """Apply the namespace, its isolation policy and its quota, when they changed; first
    refuse the job when it would change a live StatefulSet's storage (``storage``)."""
    api = env.api()
    check_storage(env, api)
    rendered = render_environment(
        env.job.environment, open_secret=secret_token, routing=env.routing
    )
    if any(obj["kind"] == "Gateway" for obj in rendered.environment_objects):
        _require_gateway_api(api)
    applied = apply_objects(api, ctx, rendered.environment_objects)
    _retire_gateway(env, ctx, rendered.environment_objects)
    if not applied.changed:
        ctx.emit_progress(f"namespace {env.namespace}: unchanged", namespace=env.namespace)
    created = any(obj["kind"] == "Namespace" for obj in applied.created)
    return {
        "namespace": env.namespace,
        CREATED: "true" if created else "false",
        CHANGED: "true" if applied.changed else "false",
    }


def _require_gateway_api(api: KubeApi) -> None:
    """Refuse, before anything is written, a cluster that does not serve the Gateway API."""
    try:
        api.request("GET", f"/apis/{GATEWAY_API}")
    except NotFoundError:
        raise DeploymentError(
            f"the cluster does not serve the Gateway API ({GATEWAY_API}), which the target's "
            "routing 'gateway' needs",
            hint="Install the Gateway API CRDs and a Gateway controller (the add-on stack's "
            "Traefik brings both), or set $.target.routing to 'ingress'.",
        ) from None


def _retire_gateway(env: EnvJob, ctx: StepContext, objects: tuple[Manifest, ...]) -> None:
    """With Gateway API routing and no router left, the environment's Gateway goes (read
    first: a no-op deploy writes nothing)."""
    if not env.routing.gateway or any(o["kind"] == "Gateway" for o in objects):
        return
    api = env.api()
    live = api.get("Gateway", env.namespace, GATEWAY)
    if live is not None and api.delete("Gateway", env.namespace, GATEWAY):
        ctx.emit_progress(f"gateway {GATEWAY}: no router left, deleted")


def undo_namespace(env: EnvJob, ctx: StepContext) -> None:
    """The namespace step's ``compensate``: a namespace this job created is deleted (the
    job's services were undone first, newest first), unless it holds claims (kept, as a
    delete keeps them: the step is then left, saying so); one that existed and that the step
    did not change needs nothing. A change to an existing
    namespace's isolation or quota is not undone (no revision of them is kept): that fails
    the compensation, so the recap lists the step as left."""
    if ctx.outputs.get(CREATED) == "true":
        api = env.api()
        claims = sorted(
            c["metadata"]["name"] for c in api.list("PersistentVolumeClaim", env.namespace)
        )
        if claims:
            # Data outlives a rollback as it outlives a delete: the namespace stays with them.
            raise DeploymentError(
                f"namespace {env.namespace} (created by this job) is kept: it holds the claims "
                f"{', '.join(claims)}, which a rollback keeps as a delete does",
                hint="Delete the environment (with delete_data) to remove them.",
            )
        if api.delete("Namespace", None, env.namespace):
            ctx.emit_progress(
                f"namespace {env.namespace}: created by this job, deleted", namespace=env.namespace
            )
        return
    if ctx.outputs.get(CHANGED) == "true":
        what = "isolation, quota and Gateway" if env.routing.gateway else "isolation and quota"
        raise DeploymentError(
            f"the changes to namespace {env.namespace}'s {what} are not undone",
            hint="Deploy the previous spec to put them back.",
        )


def _uninstall_releases(env: EnvJob, ctx: StepContext, stale: list[Manifest]) -> None:
    """Helm releases of removed services go with ``helm uninstall`` (their objects carry no
    qengine label); their history Secrets tell which services were releases."""
    from qengine_kubernetes.helm_release import is_release_history, uninstall_release

    for item in stale:
        labels = item["metadata"].get("labels") or {}
        if item["kind"] == "Secret" and labels.get(HISTORY_LABEL) and is_release_history(item):
            uninstall_release(env, labels[SERVICE_ID], ctx)


def prune_environment(env: EnvJob, ctx: StepContext) -> dict[str, str]:
    """Delete the objects of services that are no longer in the spec."""
    api = env.api()
    names = sorted(s.name for s in env.job.environment.services)
    selector = f"{ENVIRONMENT_ID}={env.job.environment.id},{SERVICE_ID}"
    if names:
        selector += f",{SERVICE_ID} notin ({','.join(names)})"
    stale: list[Manifest] = []
    claims: list[Manifest] = []
    for kind, items in api.list_kinds(SERVICE_KINDS, env.namespace, selector).items():
        for item in items:
            item["kind"] = kind
            (claims if kind == "PersistentVolumeClaim" else stale).append(item)
    _uninstall_releases(env, ctx, stale)
    # The records of a removed router go before its Ingress.
    withdraw_hosts(
        env, ctx, [h for item in stale if item["kind"] in ROUTE_KINDS for h in hosts_of(item)]
    )
    gone = delete_objects(api, ctx, stale)
    if env.job.environment.delete_data:
        gone += delete_objects(api, ctx, claims)
    elif claims:
        kept = ", ".join(sorted(c["metadata"]["name"] for c in claims))
        ctx.emit_warning(f"kept the PersistentVolumeClaims of removed services: {kept}")
    if gone:
        ctx.emit_progress(f"pruned {len(gone)} objects of removed services", pruned=len(gone))
    return {}
