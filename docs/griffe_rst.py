"""A griffe extension for the API reference: the reST markup of qengine's docstrings as
Markdown: ``code`` becomes `code`, :role:`a.b.Name` becomes `a.b.Name` (`Name` with a ``~``),
and the ``::`` before a literal block becomes ``:``, the block staying an indented code block."""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLE = re.compile(r":(?:func|class|data|meth|mod|attr|exc):`(~?)([^`]+)`")


def markdown(text: str) -> str:
    """``text`` with its reST roles, literals and literal-block markers as Markdown."""
    text = _ROLE.sub(
        lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text
    )
    return re.sub(r"::$", ":", text.replace("``", "`"), flags=re.MULTILINE)


class RestToMarkdown(Extension):
    """Rewrites every docstring once the object tree is complete."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
