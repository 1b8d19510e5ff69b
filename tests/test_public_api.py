"""The public front: ``__all__`` is sorted and exactly the public names; hooks are documented."""

from __future__ import annotations

from pathlib import Path

import qengine
import qengine.interfaces
import qengine.plugin
import qengine.spec
from qengine import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _public(module: object) -> set[str]:
    names = {n for n in vars(module) if not n.startswith("_") and not _is_submodule(module, n)}
    # Names imported on first use (see qengine/__init__.py) count as public too.
    return (names | set(getattr(module, "_LAZY", {}))) - {"TYPE_CHECKING"}


def _is_submodule(module: object, name: str) -> bool:
    value = getattr(module, name)
    return type(value).__name__ == "module" or name == "annotations"


def test_all_lists_exactly_the_public_names() -> None:
    for module in (qengine, qengine.plugin, qengine.spec, qengine.interfaces):
        exported = list(module.__all__)
        assert exported == sorted(exported), module.__name__
        assert set(exported) - {"__version__"} == _public(module), module.__name__


def test_every_hook_is_documented() -> None:
    reference = (DOCS / "hooks.md").read_text()
    hooks = [name for name in vars(hookspecs) if name.startswith("qengine_")]
    assert hooks
    for name in hooks:
        assert f"`{name}`" in reference, f"{name} is not in docs/hooks.md"
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"


# The plugins of plugins/: the contrib template, if installed, is not documented with them.
FIRST_PARTY = ("addons", "aws", "azure", "buildah", "docker", "gcp", "kubernetes", "oci")


def test_job_spec_reference_is_up_to_date() -> None:
    from qengine import load_plugins
    from qengine.spec._reference import render_reference

    first_party = load_plugins(strict=True, environ={"QENGINE_PLUGINS": ",".join(FIRST_PARTY)})
    sections = first_party.registry.section_kinds()
    committed = (DOCS / "reference" / "job-spec.md").read_text()
    assert committed == render_reference(sections), (
        "regenerate with: python -m qengine.spec._reference > docs/reference/job-spec.md"
    )


def test_the_design_page_draws_the_seam_as_the_code_has_it() -> None:
    from qengine.interfaces import EnvEngine, InfraEngine
    from qengine.plugin import Registry

    design = (DOCS / "design.md").read_text()
    for name in vars(Registry):
        if name.startswith("add_"):
            assert f"registry.{name}(" in design, f"{name} is not drawn in docs/design.md"
    for interface in (EnvEngine, InfraEngine):
        declared = [n for n in vars(interface) if n in interface.__abstractmethods__]
        actions = "|".join(declared)
        assert actions in design, f"{interface.__name__}'s actions are not drawn: {actions}"
    for name in vars(hookspecs):
        if name.startswith("qengine_"):
            assert name in design, f"the hook {name} is not in docs/design.md"
