"""Where a real plugin imports its SDK and implements ``qengine.interfaces.EnvEngine``."""

from __future__ import annotations


class ExampleEngine:
    """Replace with an implementation of :class:`qengine.interfaces.EnvEngine`."""
