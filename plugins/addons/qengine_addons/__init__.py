"""qengine's cluster add-on stack, for every cloud plugin (see docs/addons.md).

A cloud plugin appends :func:`addon_steps` to the steps of its ``create`` and ``upgrade``
plans, with a function that connects to the job's cluster from inside a step::

    from qengine_addons import AddonSettings, addon_steps

    steps += addon_steps(job, connect, AddonSettings(), after=("aws.apply",))
"""

from __future__ import annotations

from qengine_addons.freeze import Freeze, PinnedChart, chart_digest, load_freeze
from qengine_addons.stack import (
    FLAGS,
    AddonSettings,
    ClusterConnect,
    ServiceAccountIdentity,
    addon_enabled,
    addon_steps,
    addon_values,
    autoscaler_image_tag,
    autoscaler_wanted,
    cluster_client,
    dns01_solver,
    dns01_wanted,
    enabled_addons,
    require_helm,
    service_account_subject,
)

__all__ = [
    "FLAGS",
    "AddonSettings",
    "ClusterConnect",
    "Freeze",
    "PinnedChart",
    "ServiceAccountIdentity",
    "addon_enabled",
    "addon_steps",
    "addon_values",
    "autoscaler_image_tag",
    "autoscaler_wanted",
    "chart_digest",
    "cluster_client",
    "dns01_solver",
    "dns01_wanted",
    "enabled_addons",
    "load_freeze",
    "require_helm",
    "service_account_subject",
]
