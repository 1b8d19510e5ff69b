"""Hook implementations: registration only, so loading the plugin costs nothing."""

from __future__ import annotations

from qengine import Registry, hookimpl
from qengine_example.spec import ExampleTarget


def _engine() -> object:
    from qengine_example.engine import ExampleEngine

    return ExampleEngine()


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``example`` cluster target."""
    registry.add_target("example", ExampleTarget, _engine, "clusters of the example platform")
