"""The pull Secret of a registry whose credential is a short-lived token.

An Artifact Registry access token lasts an hour, an ACR refresh token about three, an ECR
token twelve (the section's :attr:`~qengine.spec.RegistrySpec.pull_secret_lifetime`). Such a
Secret is rendered, applied-hashed, planned, exported and kept in the history with one
placeholder as its whole ``.dockerconfigjson``
(:func:`~qengine_kubernetes.placeholders.registry_pull_token`), and its content is outside the
pod template's secret hash, so a new token never rolls the pods (they name the Secret only).

Inside a deploy step (and a rollback's re-apply) :func:`renew` writes it: the registry's
:meth:`~qengine.plugin.ContainerRegistry.pull_secret` gives the payload and the token's expiry,
the expiry goes in the annotation ``qengine.dev/pull-token-expires`` (the token goes nowhere
else), and the applied-hash is the placeholder rendering's. The Secret is written again only
when it is missing, its rendering changed, or the expiry it records is less than
:data:`MARGIN` away: a redeploy that changes nothing writes nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from qengine.plugin import PluginError
from qengine.runner import ChangeAction, StepContext
from qengine_kubernetes.apply import APPLIED_BY
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.diff import PULL_TOKEN_EXPIRES, annotation, stamped, up_to_date
from qengine_kubernetes.inventory import Inventory
from qengine_kubernetes.jobctx import EnvJob
from qengine_kubernetes.placeholders import registry_pull_token
from qengine_kubernetes.render import Manifest

# A rollout may take ten minutes and more (the rollout timeout): a token closer than this to
# its expiry is replaced before the pods that need it are created.
MARGIN = datetime.timedelta(minutes=15)
PAYLOAD_KEY = ".dockerconfigjson"


def is_token_secret(obj: Manifest) -> bool:
    """Whether ``obj`` is a pull Secret the registry's short-lived token fills."""
    data = obj.get("stringData") or {}
    return obj["kind"] == "Secret" and data.get(PAYLOAD_KEY) == registry_pull_token()


def renew(
    env: EnvJob,
    api: KubeApi,
    ctx: StepContext,
    objects: Iterable[Manifest],
    *,
    known: Inventory | None = None,
    created: list[Manifest] | None = None,
) -> list[Manifest]:
    """Write each token pull Secret of ``objects`` that is missing, changed or near its
    expiry; the other objects, for :func:`~qengine_kubernetes.apply.apply_objects`.

    ``known``: the job's inventory (read instead of a GET, told of each write); ``created``
    receives each Secret this call created, so a failed first deploy deletes it too."""
    rest: list[Manifest] = []
    for obj in objects:
        if is_token_secret(obj):
            _renew_one(env, api, ctx, obj, known, created)
        else:
            rest.append(obj)
    return rest


def expires_at(live: Manifest | None) -> datetime.datetime | None:
    """The expiry the live Secret records (None: absent, unreadable or none recorded)."""
    value = annotation(live, PULL_TOKEN_EXPIRES) if live is not None else None
    if value is None:
        return None
    try:
        found = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=datetime.UTC)


def _renew_one(
    env: EnvJob,
    api: KubeApi,
    ctx: StepContext,
    obj: Manifest,
    known: Inventory | None,
    created: list[Manifest] | None,
) -> None:
    name = obj["metadata"]["name"]
    namespace = obj["metadata"].get("namespace")
    desired = stamped(obj)
    live = known.get("Secret", name) if known is not None else api.get("Secret", namespace, name)
    now = datetime.datetime.now(datetime.UTC)
    expiry = expires_at(live)
    if up_to_date(desired, live) and expiry is not None and expiry - now > MARGIN:
        return
    registry = env.services.container_registry()
    if registry is None:
        raise PluginError(
            f"no container registry to fill the pull Secret {name} with",
            hint="Install the plugin of the job's registry kind.",
        )
    pull = registry.pull_secret()
    until = pull.expires_at or now + _lifetime(env)
    desired["stringData"] = {PAYLOAD_KEY: pull.payload.decode()}
    desired["metadata"]["annotations"][PULL_TOKEN_EXPIRES] = _stamp(until)
    desired["metadata"]["annotations"][APPLIED_BY] = ctx.job_id
    answer, fresh = api.apply_created(desired)
    if known is not None:
        known.record(answer)
    new = fresh or live is None
    if new and created is not None:
        created.append(obj)
    ctx.emit_resource_changed(ChangeAction.CREATE if new else ChangeAction.UPDATE, "Secret", name)
    ctx.emit_progress(f"pull Secret {name}: registry token valid until {_stamp(until)}")


def _lifetime(env: EnvJob) -> datetime.timedelta:
    """The section's token lifetime, for a registry that gives no expiry with its payload."""
    registry = env.job.registry
    lifetime = registry.pull_secret_lifetime if registry is not None else None
    return lifetime or MARGIN * 2


def _stamp(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
