"""Storage changes of StatefulSet-backed services, refused before anything is applied.

A StatefulSet's ``volumeClaimTemplates`` cannot be updated: a 1.31 API server refuses it with
``422 ... updates to statefulset spec for fields other than 'replicas', ... are forbidden``. So
a changed ``storage`` (or ``storage_class``) of a database in container mode, or a changed
``size`` (or ``storage_class``) of a volume, cannot simply be applied. Rather than fail half-way
through the job with that 422, the namespace step (the first step of a deploy) compares the
templates of each StatefulSet the job deploys with the live ones and refuses the job with a
:class:`~qengine.plugin.SpecError` (exit code 2) naming each changed field, before it writes
anything. A shrink or a new storage class cannot be done in place at all (claims do not shrink,
and their class is immutable); growth can, by hand, as the hint of a grown volume says.

The check reads only (one GET per StatefulSet); a service whose StatefulSet is not live yet
(first deploy, or deleted with its claims kept) is not compared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import attrs

from qengine.plugin import SpecError, SpecIssue
from qengine.spec import (
    ApplicationService,
    ContainerService,
    DatabaseMode,
    DatabaseService,
    service_path,
)
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.jobctx import EnvJob
from qengine_kubernetes.render import Manifest
from qengine_kubernetes.render.database import DATA_VOLUME

_SUFFIXES: dict[str, Decimal | int] = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
HINT = (
    "A volume claim cannot shrink and its storage class cannot change: deploy the data under "
    "a new service name and migrate it (dump and restore), then remove the old service."
)
GROW_HINT = (
    "qengine does not grow a StatefulSet's claims itself yet. By hand: raise "
    "spec.resources.requests.storage of each claim <volume>-<service>-<ordinal> (kubectl "
    "patch pvc), then `kubectl delete statefulset <service> --cascade=orphan` (pods and claims "
    "stay), then deploy again: the new StatefulSet adopts the pods."
)


@attrs.frozen(kw_only=True)
class Claim:
    """One volume claim template a service's StatefulSet should have, and where it is set."""

    service: str
    volume: str
    size: str
    storage_class: str | None
    size_path: str
    class_path: str


def quantity(value: str) -> Decimal:
    """The number of bytes (or units) a Kubernetes quantity such as ``10Gi`` or ``5G`` means."""
    match = _QUANTITY.match(value.strip())
    if match is None or match.group(2) not in _SUFFIXES:
        raise ValueError(f"not a quantity: {value!r}")
    return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]


def _claims(env: EnvJob) -> Iterator[Claim]:
    """The claim templates of the StatefulSets this job deploys (its chosen services)."""
    chosen = set(env.job.services)
    for i, service in enumerate(env.job.environment.services):
        if chosen and service.name not in chosen:
            continue
        base = service_path(env.job.environment.services, i)
        if isinstance(service, DatabaseService) and service.mode is DatabaseMode.CONTAINER:
            yield Claim(
                service=service.name,
                volume=DATA_VOLUME,
                size=service.storage,
                storage_class=service.storage_class,
                size_path=f"{base}.storage",
                class_path=f"{base}.storage_class",
            )
        elif isinstance(service, ApplicationService | ContainerService):
            for j, volume in enumerate(service.volumes):
                yield Claim(
                    service=service.name,
                    volume=volume.name,
                    size=volume.size,
                    storage_class=volume.storage_class,
                    size_path=f"{base}.volumes[{j}].size",
                    class_path=f"{base}.volumes[{j}].storage_class",
                )


def _templates(live: Manifest) -> dict[str, Manifest]:
    templates = live.get("spec", {}).get("volumeClaimTemplates") or []
    return {t["metadata"]["name"]: t.get("spec") or {} for t in templates}


def _issues(claim: Claim, live: Manifest) -> list[SpecIssue]:
    """What ``claim`` changes of its live template ``live`` (a template's spec)."""
    issues: list[SpecIssue] = []
    what = f"service {claim.service!r}, volume {claim.volume!r}"
    live_class = live.get("storageClassName")
    if (live_class or None) != claim.storage_class:
        issues.append(
            SpecIssue(
                claim.class_path,
                f"{what}: the storage class cannot change in place "
                f"({live_class or 'the default'} -> {claim.storage_class or 'the default'})",
            )
        )
    live_size = str((live.get("resources") or {}).get("requests", {}).get("storage", ""))
    if not live_size or quantity(live_size) == quantity(claim.size):
        return issues
    grows = quantity(claim.size) > quantity(live_size)
    verb = "growing" if grows else "shrinking"
    reason = "is not done by qengine yet" if grows else "is impossible: a claim cannot shrink"
    issues.append(
        SpecIssue(
            claim.size_path,
            f"{what}: {verb} the storage from {live_size} to {claim.size} {reason}",
        )
    )
    return issues


def check_storage(env: EnvJob, api: KubeApi) -> None:
    """Refuse the job when a StatefulSet it deploys would change a live volume claim
    template (size or class); reads only. Raises :class:`SpecError` (exit code 2)."""
    issues: list[SpecIssue] = []
    live_sets: dict[str, dict[str, Manifest] | None] = {}
    for claim in _claims(env):
        if claim.service not in live_sets:
            live = api.get("StatefulSet", env.namespace, claim.service)
            live_sets[claim.service] = None if live is None else _templates(live)
        templates = live_sets[claim.service]
        if templates is not None and claim.volume in templates:
            issues.extend(_issues(claim, templates[claim.volume]))
    if issues:
        hints = [HINT] if any("growing" not in i.message for i in issues) else []
        hints += [GROW_HINT] if any("growing" in i.message for i in issues) else []
        raise SpecError(issues, hint=" ".join(hints))
