"""The JSON value type shared by the Terraform modules, and how a value is kept literal."""

from __future__ import annotations

import re
from typing import TypeAlias

Json: TypeAlias = "str | int | float | bool | list[Json] | dict[str, Json] | None"

_SEQUENCE = re.compile(r"([$%])\{")


def literal(text: str) -> str:
    """``text`` as a string of Terraform's JSON syntax that means exactly ``text``.

    In a ``.tf.json`` file every string is a template: ``${...}`` interpolates and ``%{...}``
    is a directive, so a value from a spec that holds them would be run by ``terraform``.
    Doubling the sign (``$${``, ``%%{``) is Terraform's escape for a literal sequence. Use it
    on every free-text value a module takes from a spec (values held to a character set
    without ``{`` need none).
    """
    return _SEQUENCE.sub(r"\1\1{", text)
