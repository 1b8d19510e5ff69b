"""Test stand-in charts of the stack, for tests and the sandbox.

``testcharts/`` holds, for each add-on, a small chart with the structure the engine relies on
(CRDs in ``crds/``, in templates behind a switch and in a subchart, a validating webhook and
its Service, a post-install hook Job, a LoadBalancer Service) and no real software.
:func:`package_test_charts` packages them with the real helm and returns the test freeze with
the digests of those archives, so the digest check runs in tests and sandbox runs as in real
ones.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import attrs

from qengine.secrets.hygiene import child_env
from qengine_addons.freeze import Freeze, chart_digest, load_freeze
from qengine_addons.stack import TEST_CHARTS

__all__ = ["TEST_CHARTS", "package_test_charts", "with_values"]


def package_test_charts(helm: str, directory: Path, *, charts: Path = TEST_CHARTS) -> Freeze:
    """Package every test chart into ``directory`` (``<chart>-<version>.tgz``); the test
    freeze with their digests recorded."""
    directory.mkdir(parents=True, exist_ok=True)
    home = directory / ".helm"
    env = child_env(
        extra={
            "HOME": str(home),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
    )
    freeze = load_freeze(charts / "freeze.json")
    digests: dict[str, str] = {}
    for addon in freeze.addons:
        if addon.builtin:
            continue
        subprocess.run(
            [helm, "package", str(charts / addon.chart), "-d", str(directory)],
            env=env,
            check=True,
            capture_output=True,
        )
        digests[addon.name] = chart_digest(directory / f"{addon.chart}-{addon.version}.tgz")
    return freeze.with_digests(digests)


def with_values(freeze: Freeze, name: str, **values: object) -> Freeze:
    """``freeze`` with ``values`` merged over add-on ``name``'s (a test's variation)."""
    addons = tuple(
        attrs.evolve(a, values={**a.values, **values}) if a.name == name else a
        for a in freeze.addons
    )
    return attrs.evolve(freeze, addons=addons)
