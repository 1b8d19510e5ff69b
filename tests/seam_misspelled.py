"""A plugin module whose hook is misspelled (loaded with ``-p``): refused at load."""

from qengine.plugin import Registry, hookimpl


@hookimpl
def qengine_regster(registry: Registry) -> None:
    """Never called: there is no such hook."""
    raise AssertionError("a misspelled hook was called")
