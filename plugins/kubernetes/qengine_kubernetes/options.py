"""The plugin's command-line options of ``qengine run`` and ``qengine plan``.

``--chart-root DIR`` is the checkout a Helm service's local chart ``path`` is read in (see
:mod:`qengine_kubernetes.charts`); it is kept in sandbox runs.

``--kubeconfig FILE`` (and ``--context NAME``) point the engine at one cluster for every target
of this plugin, the ``sandbox`` target included: that is how a sealed job written for the
sandbox runs on a real cluster. They become the plugin's engine settings (a
:class:`~qengine_kubernetes.settings.KubeSettings` with ``kubeconfig`` and ``context``), which a
sandbox run's own settings replace.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Mapping

from qengine.plugin import InvalidInputError
from qengine_kubernetes.settings import PLUGIN, KubeSettings

# Prefixed destinations: the options of every plugin share one namespace.
KUBECONFIG = "kubernetes_kubeconfig"
CONTEXT = "kubernetes_context"
CHART_ROOT = "kubernetes_chart_root"


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--kubeconfig`` and ``--context`` in an argument group named ``kubernetes``."""
    group = parser.add_argument_group(PLUGIN)
    group.add_argument(
        "--kubeconfig",
        dest=KUBECONFIG,
        type=pathlib.Path,
        metavar="FILE",
        help="deploy environment jobs to the cluster of this kubeconfig, whatever their target",
    )
    group.add_argument(
        "--context", dest=CONTEXT, metavar="NAME", help="with --kubeconfig: the context to use"
    )
    group.add_argument(
        "--chart-root",
        dest=CHART_ROOT,
        type=pathlib.Path,
        metavar="DIR",
        help="the checkout a Helm service's local chart path is read in (without it, local "
        "charts are refused)",
    )


def engine_settings(options: Mapping[str, object]) -> dict[str, KubeSettings] | None:
    """The settings the options give (None without ``--kubeconfig`` and ``--chart-root``).

    ``--context`` without ``--kubeconfig`` is refused: alone it would be silently ignored. So
    is a kubeconfig that is not a readable file, before anything runs (a job whose steps were
    all done before would otherwise succeed without ever reading it), and a chart root that is
    not a directory.
    """
    kubeconfig = options.get(KUBECONFIG)
    context = options.get(CONTEXT)
    chart_root = _chart_root(options.get(CHART_ROOT))
    if not isinstance(kubeconfig, pathlib.Path):
        if context is not None:
            raise InvalidInputError(
                "--context is only used with --kubeconfig",
                hint="Give --kubeconfig FILE too, or name the context in the job's target.",
            )
        return None if chart_root is None else {PLUGIN: KubeSettings(chart_root=chart_root)}
    path = kubeconfig.expanduser()
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise InvalidInputError(
            f"--kubeconfig: {kubeconfig} {what}", hint="Give the path of a kubeconfig file."
        )
    chosen = context if isinstance(context, str) else None
    return {PLUGIN: KubeSettings(kubeconfig=str(path), context=chosen, chart_root=chart_root)}


def _chart_root(given: object) -> str | None:
    if not isinstance(given, pathlib.Path):
        return None
    path = given.expanduser().resolve()
    if not path.is_dir():
        raise InvalidInputError(
            f"--chart-root: {given} is not a directory",
            hint="Give the checkout that holds the job's local charts.",
        )
    return str(path)
