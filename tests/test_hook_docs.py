"""docs/hooks.md is generated from the hook specifications and matches them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from qengine import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_hooks", DOCS / "gen_hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hook_reference_is_what_the_specifications_generate() -> None:
    committed = (DOCS / "hooks.md").read_text()
    assert committed == _generator().render(), (
        "docs/hooks.md differs from qengine/hookspecs.py: "
        "regenerate it with `python docs/gen_hooks.py > docs/hooks.md`"
    )


def test_every_hook_is_listed_once_under_a_phase_of_the_module_docstring() -> None:
    generator = _generator()
    listed = [name for _, names in generator.phases() for name in names]
    specified = [name for name in vars(hookspecs) if name.startswith("qengine_")]
    assert sorted(listed) == sorted(specified)
    assert [title for title, _ in generator.phases()] == [
        "Registration",
        "Configuration",
        "Validation",
        "Planning",
        "Export",
    ]


def test_each_hook_shows_its_signature_and_its_whole_docstring() -> None:
    page = (DOCS / "hooks.md").read_text()
    generator = _generator()
    for name, function in generator.hooks().items():
        assert f"### `{name}`" in page
        assert generator.signature(name, function) in page
        assert "Since: " in function.__doc__, f"{name} does not say when it appeared"
        assert generator.markdown(function.__doc__) in page
