"""The plugin's command-line options of ``qengine run`` and ``qengine plan``.

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


def engine_settings(options: Mapping[str, object]) -> dict[str, KubeSettings] | None:
    """The settings the options give (None without ``--kubeconfig``).

    ``--context`` without ``--kubeconfig`` is refused: alone it would be silently ignored. So
    is a kubeconfig that is not a readable file, before anything runs (a job whose steps were
    all done before would otherwise succeed without ever reading it).
    """
    kubeconfig = options.get(KUBECONFIG)
    context = options.get(CONTEXT)
    if not isinstance(kubeconfig, pathlib.Path):
        if context is not None:
            raise InvalidInputError(
                "--context is only used with --kubeconfig",
                hint="Give --kubeconfig FILE too, or name the context in the job's target.",
            )
        return None
    path = kubeconfig.expanduser()
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise InvalidInputError(
            f"--kubeconfig: {kubeconfig} {what}", hint="Give the path of a kubeconfig file."
        )
    chosen = context if isinstance(context, str) else None
    return {PLUGIN: KubeSettings(kubeconfig=str(path), context=chosen)}
