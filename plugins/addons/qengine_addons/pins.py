"""Trust on first use for charts whose digest the freeze file does not record.

The freeze file's digests are checked before anything is installed (:mod:`qengine_addons.freeze`).
A chart whose digest is not recorded there (the upstream charts, until someone records them on
a machine that reaches their repositories) would otherwise be refused, and a real cluster could
get no add-on at all. So, unless the engine is strict (``AddonSettings.require_digests``), the
first archive fetched for a chart and version is trusted and its digest **pinned in the
cluster**: the ConfigMap ``qengine-addons-digests`` in the stack's namespace, one key per
chart and version (``<chart>_<version>``, the value ``sha256:<hex>``), labelled as the stack's.
Every later run, by any engine, compares the archive it fetched with that pin and refuses
another one. The first use is announced by a warning event naming the chart, version and
digest, so the pin can be checked against the project's published one.

Why a ConfigMap of the stack and not the Helm release: the pin must exist before any release
does (the CRD step fetches every chart first), must outlive an add-on turned off and on
again (an uninstall deletes the release's records), and must be one object a person can read
and check (``kubectl -n qengine-system get configmap qengine-addons-digests -o yaml``).

A write races nothing in practice (the engine holds the target's lock, and the CRD step fetches
the charts one after another); if the ConfigMap changed between the read and the write (HTTP
409), it is read again: a pin now there is compared, and none is an error to run again, rather
than a retry loop here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine_kubernetes.client import KubeApi, NotFoundError

from qengine.plugin import ConflictError, InfrastructureError
from qengine.runner import ChangeAction, StepContext
from qengine_addons.freeze import PinnedChart

CONFIGMAP = "qengine-addons-digests"
LABELS = {"app.kubernetes.io/part-of": "qengine-addons", "app.kubernetes.io/managed-by": "qengine"}


def pin_key(addon: PinnedChart) -> str:
    """The ConfigMap key of a chart and version (chart names hold no ``_``)."""
    return f"{addon.chart}_{addon.version}"


def _path(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    return f"{base}/{name}" if name else base


def read_pins(api: KubeApi, namespace: str) -> dict[str, Any] | None:
    """The pins' ConfigMap, or None when no chart was pinned on this cluster yet."""
    try:
        return api.request("GET", _path(namespace, CONFIGMAP))
    except NotFoundError:
        return None


def check_or_pin(
    ctx: StepContext, api: KubeApi, namespace: str, addon: PinnedChart, digest: str
) -> None:
    """Compare ``digest`` (of the archive just fetched) with the cluster's pin of ``addon``'s
    chart and version; pin it, with a warning event, when there is none. Raises
    :class:`~qengine.plugin.InfrastructureError` naming the add-on when the pin differs."""
    live = read_pins(api, namespace)
    pinned = _pinned(live, addon)
    if pinned is not None:
        _compare(addon, digest, pinned)
        return
    try:
        _write(api, namespace, live, addon, digest)
    except ConflictError:
        pinned = _pinned(read_pins(api, namespace), addon)
        if pinned is None:
            raise ConflictError(
                f"add-on {addon.name}: the ConfigMap {namespace}/{CONFIGMAP} changed while "
                f"{addon.chart} {addon.version} was being pinned",
                hint="Run the job again.",
            ) from None
        _compare(addon, digest, pinned)
        return
    ctx.emit_resource_changed(
        ChangeAction.UPDATE if live else ChangeAction.CREATE, "ConfigMap", CONFIGMAP
    )
    ctx.emit_warning(
        f"add-on {addon.name}: the freeze file records no digest of {addon.chart} "
        f"{addon.version}; trusting the archive fetched on first use and pinning {digest} in "
        f"the ConfigMap {namespace}/{CONFIGMAP}: later runs refuse any other archive under "
        "that version. Check it against the digest the chart's project publishes."
    )


def _pinned(live: Mapping[str, Any] | None, addon: PinnedChart) -> str | None:
    found = ((live or {}).get("data") or {}).get(pin_key(addon))
    return str(found) if found else None


def _compare(addon: PinnedChart, digest: str, pinned: str) -> None:
    if digest != pinned:
        raise InfrastructureError(
            f"add-on {addon.name}: the chart {addon.chart} {addon.version} fetched has digest "
            f"{digest}, not {pinned}, which this cluster pinned when it first installed that "
            "version",
            hint="The repository or mirror now serves another archive under that version. "
            "Find out why before trusting it; to accept it, delete its key "
            f"{pin_key(addon)} from the ConfigMap {CONFIGMAP} (docs/addons.md).",
        )


def _write(
    api: KubeApi,
    namespace: str,
    live: Mapping[str, Any] | None,
    addon: PinnedChart,
    digest: str,
) -> None:
    if live is None:
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "namespace": namespace, "labels": dict(LABELS)},
            "data": {pin_key(addon): digest},
        }
        api.request("POST", _path(namespace), body=body)
        return
    # The read's resourceVersion makes the update fail (409) if the map changed meanwhile.
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIGMAP,
            "namespace": namespace,
            "labels": {**(live["metadata"].get("labels") or {}), **LABELS},
            "resourceVersion": live["metadata"]["resourceVersion"],
        },
        "data": {**(live.get("data") or {}), pin_key(addon): digest},
    }
    api.request("PUT", _path(namespace, CONFIGMAP), body=body)
