"""Generate docs/hooks.md from the hook specifications in ``qengine/hookspecs.py``.

Run ``python docs/gen_hooks.py > docs/hooks.md`` after changing a hook; ``tests/test_hook_docs.py``
fails while the page differs from what this prints. The page lists every hook under the phase
the module docstring puts it in, with its signature and its docstring turned into Markdown.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator

from qengine import hookspecs

HEADER = """# Hook reference

<!-- Generated from qengine/hookspecs.py by `python docs/gen_hooks.py > docs/hooks.md`;
do not edit by hand. -->

Every hook is specified in `qengine/hookspecs.py`, prefixed `qengine_`, grouped by phase.
Mark implementations with `qengine.plugin.hookimpl`. Arguments are only ever added: an
implementation may declare only the arguments it uses, never an argument its hook does not
offer. A plugin with a misspelled hook (a `qengine_...` function that is no hook) or a
mis-signed one is refused when it is loaded, with an error naming the plugin and the hook.
[Writing a plugin](plugins.md) shows each hook at work in a real plugin.
"""

_GROUP_ENTRY = re.compile(r"    :func:`(qengine_\w+)`")
_ROLE = re.compile(r":(?:func|class|data|meth|mod|attr):`~?([^`]+)`")
_PARAM = re.compile(r":param (\w+):\s*(.*)")


def phases() -> list[tuple[str, list[str]]]:
    """The phases of the module docstring, in order, with the hooks each lists."""
    groups: list[tuple[str, list[str]]] = []
    lines = inspect.cleandoc(hookspecs.__doc__ or "").splitlines()
    for line, after in zip(lines, [*lines[1:], ""], strict=True):
        if found := _GROUP_ENTRY.match(line):
            groups[-1][1].append(found.group(1))
        elif _GROUP_ENTRY.match(after):  # a phase: a title over its indented hooks
            groups.append((line.strip(), []))
    return groups


def hooks() -> dict[str, Callable[..., object]]:
    """Every hook specification, by name."""
    return {n: f for n, f in vars(hookspecs).items() if n.startswith("qengine_") and callable(f)}


def signature(name: str, function: Callable[..., object]) -> str:
    """``name(arg: Type, ...) -> Return``, as written in the specification."""
    spec = inspect.signature(function)
    arguments = ", ".join(f"{p.name}: {p.annotation}" for p in spec.parameters.values())
    return f"{name}({arguments}) -> {spec.return_annotation}"


def markdown(docstring: str) -> str:
    """A hook's docstring as Markdown: roles become code, ``:param:`` fields a list."""
    return "\n".join(_markdown_lines(inspect.cleandoc(docstring))).strip() + "\n"


def _markdown_lines(text: str) -> Iterator[str]:
    in_params = False
    previous = ""
    for line in text.replace("``", "`").splitlines():
        line = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", line)
        if found := _PARAM.match(line):
            if not in_params and previous:
                yield ""
            in_params = True
            yield f"- `{found.group(1)}`: {found.group(2)}"
        elif in_params and line.startswith("    "):
            yield "  " + line.strip()
        else:
            if in_params and line:
                yield ""
            in_params = False
            yield line
        previous = line


def render() -> str:
    """The whole page."""
    specs = hooks()
    grouped = [name for _, names in phases() for name in names]
    missing = sorted(set(specs) - set(grouped))
    if missing or len(grouped) != len(set(grouped)):
        raise SystemExit(f"every hook must be listed once in hookspecs' docstring: {missing}")
    lines = [HEADER]
    for title, names in phases():
        lines += [f"## {title}", ""]
        for name in names:
            function = specs[name]
            options = getattr(function, "qengine_spec", {})
            lines += [f"### `{name}`", "", "```python", signature(name, function), "```", ""]
            if options.get("firstresult"):
                lines += ["`firstresult`: the first implementation that returns a value wins.", ""]
            lines.append(markdown(function.__doc__ or ""))
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
