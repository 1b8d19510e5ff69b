"""The ``target`` section this plugin provides."""

from __future__ import annotations

from typing import Literal

import attrs

from qengine.spec import TargetSpec


@attrs.frozen(kw_only=True)
class ExampleTarget(TargetSpec):
    """A cluster reached through the example platform's API at ``endpoint``."""

    kind: Literal["example"]
    endpoint: str
