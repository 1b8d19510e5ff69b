"""qengine's cluster add-on stack, for every cloud plugin (see docs/addons.md).

A cloud plugin appends :func:`addon_steps` to the steps of its ``create`` and ``upgrade``
plans, with a function that connects to the job's cluster from inside a step::

    from qengine_addons import AddonSettings, addon_steps

    steps += addon_steps(job, connect, AddonSettings(), after=("aws.apply",))

The names are imported on first use: the package is also a plugin (the ``existing``
provider, :mod:`qengine_addons.plugin`), and loading a plugin must not import the stack, the
Kubernetes plugin's client or YAML.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qengine_addons.flags import (
        FLAGS,
        addon_enabled,
        autoscaler_wanted,
        dns01_wanted,
        enabled_addons,
    )
    from qengine_addons.freeze import Freeze, PinnedChart, chart_digest, load_freeze
    from qengine_addons.stack import (
        AddonSettings,
        ClusterConnect,
        ServiceAccountIdentity,
        addon_steps,
        addon_values,
        autoscaler_image_tag,
        cluster_client,
        dns01_solver,
        require_helm,
        service_account_subject,
        uninstall_steps,
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
    "uninstall_steps",
]

_MODULES = {
    **dict.fromkeys(("Freeze", "PinnedChart", "chart_digest", "load_freeze"), "freeze"),
    **dict.fromkeys(
        ("FLAGS", "addon_enabled", "autoscaler_wanted", "dns01_wanted", "enabled_addons"), "flags"
    ),
}


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"qengine_addons.{_MODULES.get(name, 'stack')}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
