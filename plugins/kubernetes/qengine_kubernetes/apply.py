"""Applying objects: server-side apply as field manager ``qengine``, only what changed.

``force=True``: when another manager (a person with kubectl, an operator) owns a field qengine
renders, qengine takes it back. The job spec is the source of truth for the fields it renders;
fields qengine does not render are left to their owners. The conflict is not silent: the
object's ``managedFields`` then show qengine as the owner.

Each object written also carries ``qengine.dev/applied-by-job``: the id of the job that wrote
it. It is outside the applied-hash (so an unchanged object is never rewritten for it) and is
how a rollback, or a re-run after a crash, tells what a job changed from what it found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from qengine.runner import ChangeAction, StepContext
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.diff import PAUSED_REPLICAS, annotation, stamped, up_to_date
from qengine_kubernetes.inventory import Inventory
from qengine_kubernetes.paused import resume_patch
from qengine_kubernetes.render import Manifest
from qengine_kubernetes.resources import apply_order

APPLIED_BY = "qengine.dev/applied-by-job"


@attrs.frozen(kw_only=True)
class Applied:
    """What an apply did: each object applied (created or updated), and each left alone.

    ``live`` holds the live version of each unchanged object, as read before deciding, by
    (kind, name): a caller verifies them without reading them again. ``written`` holds the
    API's answer to each apply (the object as it was just written), by (kind, name): a wait
    for its rollout starts from it rather than reading it again.
    """

    created: tuple[Manifest, ...] = ()
    updated: tuple[Manifest, ...] = ()
    unchanged: tuple[Manifest, ...] = ()
    live: Mapping[tuple[str, str], Manifest] = attrs.field(factory=dict)
    written: Mapping[tuple[str, str], Manifest] = attrs.field(factory=dict)

    @property
    def changed(self) -> bool:
        """Whether any object was written."""
        return bool(self.created or self.updated)


def key(obj: Manifest) -> tuple[str, str]:
    """(kind, name) of an object."""
    return obj["kind"], obj["metadata"]["name"]


def apply_objects(
    api: KubeApi,
    ctx: StepContext,
    objects: Iterable[Manifest],
    created: list[Manifest] | None = None,
    *,
    known: Inventory | None = None,
) -> Applied:
    """Apply each of ``objects`` whose live version differs, kinds others read first.

    ``created`` (when given) receives each object as soon as it is created, so a caller can
    undo a first deploy that fails half-way. ``known``: the job's inventory of live objects
    (see :mod:`qengine_kubernetes.inventory`), read instead of one GET per object and told
    of each write; without it each object is read.
    """
    created = [] if created is None else created
    updated: list[Manifest] = []
    unchanged: list[Manifest] = []
    found: dict[tuple[str, str], Manifest] = {}
    written: dict[tuple[str, str], Manifest] = {}
    for obj in sorted(objects, key=lambda o: apply_order(o["kind"])):
        ctx.cancel.raise_if_cancelled()
        desired = stamped(obj)
        namespace = obj["metadata"].get("namespace")
        if known is not None:
            live = known.get(obj["kind"], obj["metadata"]["name"])
        else:
            live = api.get(obj["kind"], namespace, obj["metadata"]["name"])
        if live is not None and up_to_date(desired, live):
            live.setdefault("kind", obj["kind"])
            found[key(obj)] = live
            unchanged.append(obj)
            continue
        desired["metadata"]["annotations"][APPLIED_BY] = ctx.job_id
        if live is not None and annotation(live, PAUSED_REPLICAS) is not None:
            # Deploying a paused service resumes it (the rendering may not set replicas).
            live.setdefault("kind", obj["kind"])
            patch = resume_patch(live)
            if patch is not None:
                api.merge_patch(obj["kind"], namespace, obj["metadata"]["name"], patch)
        answer, fresh = api.apply_created(desired)
        if known is not None:
            known.record(answer)
        written[key(obj)] = answer
        # Absent when read (or listed) counts as created even when the apply found it: a
        # retried apply whose first attempt landed, or a concurrent creation, as before.
        new = fresh or live is None
        action = ChangeAction.CREATE if new else ChangeAction.UPDATE
        (created if new else updated).append(obj)
        ctx.emit_resource_changed(action, obj["kind"], obj["metadata"]["name"])
    return Applied(
        created=tuple(created),
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        live=found,
        written=written,
    )


def applied_by(live: Manifest | None) -> str:
    """The id of the job that last wrote ``live`` ('' when unknown or absent)."""
    if live is None:
        return ""
    return annotation(live, APPLIED_BY) or ""


def delete_objects(
    api: KubeApi, ctx: StepContext, objects: Iterable[Manifest], *, known: Inventory | None = None
) -> list[str]:
    """Delete ``objects`` (dependents first); the ``kind/name`` of each one that existed
    (``known``: the job's inventory, told of each deletion)."""
    gone: list[str] = []
    for obj in sorted(objects, key=lambda o: -apply_order(o["kind"])):
        kind, name = key(obj)
        if known is not None:
            known.forget(kind, name)
        if api.delete(kind, obj["metadata"].get("namespace"), name):
            gone.append(f"{kind}/{name}")
            ctx.emit_resource_changed(ChangeAction.DELETE, kind, name)
    return gone
