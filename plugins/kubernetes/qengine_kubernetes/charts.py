"""Local Helm charts: a chart ``path`` is read only inside the engine's chart root.

A job names a local chart by a path relative to ``KubeSettings.chart_root`` (``--chart-root
DIR``), the checkout the host declares as the job's chart source. Without a chart root, a local
chart is refused: the engine's working directory is never a chart source. The chart directory,
resolved, must lie strictly inside the resolved root, and nothing in it may be a symbolic link
leading out of the root (helm follows links, so a link would let a spec read any file the engine
can read and ship it to the cluster as a chart file). The check runs when the job's steps are
planned (refused with exit 2, nothing applied) and again when helm is about to read the chart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from qengine.plugin import InvalidInputError
from qengine.spec import EnvironmentJob, HelmService, service_path

__all__ = ["check_local_charts", "local_chart"]

_ROOT_HINT = (
    "Give the engine the checkout that holds the chart: `--chart-root DIR` on the command line, "
    "or the kubernetes plugin's `chart_root` setting when embedding."
)


def local_chart(chart_root: str | None, relative: str, where: str) -> Path:
    """The chart directory ``relative`` under ``chart_root``, resolved; an InvalidInputError
    naming ``where`` (the spec path) when there is no root, or when the directory or anything in
    it leaves the root, or when it is not a directory."""
    if not chart_root:
        raise InvalidInputError(f"{where}: a local chart needs a chart root", hint=_ROOT_HINT)
    root = Path(chart_root).expanduser().resolve()
    if not root.is_dir():
        raise InvalidInputError(f"the chart root {chart_root} is not a directory", hint=_ROOT_HINT)
    chart = (root / relative).resolve()
    if chart == root or not chart.is_relative_to(root):
        raise InvalidInputError(
            f"{where}: {relative!r} leaves the chart root",
            hint="Name the chart's own directory inside the chart root.",
        )
    if not chart.is_dir():
        raise InvalidInputError(
            f"{where}: no chart directory {relative!r} in the chart root",
            hint="Check the path against the checkout given as the chart root.",
        )
    for link in _links(chart):
        if not link.resolve().is_relative_to(root):
            raise InvalidInputError(
                f"{where}: {link.relative_to(chart)} in the chart links outside the chart root",
                hint="Replace the link by the file it points to, inside the checkout.",
            )
    return chart


def check_local_charts(job: EnvironmentJob, chart_root: str | None) -> None:
    """Refuse the job when one of its Helm services' local charts is not readable as
    :func:`local_chart` allows."""
    for index, service in enumerate(job.environment.services):
        if isinstance(service, HelmService) and service.chart.path is not None:
            where = f"{service_path(job.environment.services, index)}.chart.path"
            local_chart(chart_root, service.chart.path, where)


def _links(directory: Path) -> Iterator[Path]:
    """Every symbolic link under ``directory``, without following any."""
    for top, dirs, files in os.walk(directory, followlinks=False):
        for name in (*dirs, *files):
            path = Path(top, name)
            if path.is_symlink():
                yield path
