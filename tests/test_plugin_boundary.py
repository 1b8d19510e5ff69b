"""The plugin seam's boundary: plugins and contrib/ use the public API only.

The lint rule (``plugins/ruff.toml``, ``contrib/ruff.toml``: ruff's banned-api) is what fails
the build; these tests check that its list names every private module of the core, and read
every plugin module's imports themselves, so neither the list nor the rule can drift.
"""

from __future__ import annotations

import ast
import pathlib
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _private_modules() -> set[str]:
    found = set()
    for path in (ROOT / "qengine").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] in ("__init__", "__main__"):
            parts = parts[:-1] if parts[-1] == "__init__" else []
        if parts and any(part.startswith("_") for part in parts[1:]):
            found.add(".".join(parts))
    return found


@pytest.mark.parametrize("folder", ["plugins", "contrib"])
def test_the_lint_rule_bans_every_private_module(folder: str) -> None:
    config = tomllib.loads((ROOT / folder / "ruff.toml").read_text())
    banned = set(config["lint"]["flake8-tidy-imports"]["banned-api"])
    assert _private_modules() - banned == set()
    assert "qengine._engine" in banned


def _is_private(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "qengine" and any(part.startswith("_") for part in parts[1:])


def _imports(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # Code run in a child process: "from qengine._cli.main import main".
            names.extend(
                word for word in node.value.replace(";", " ").split() if word.startswith("qengine.")
            )
    return names


def test_no_plugin_or_contrib_module_imports_a_private_core_module() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for folder in ("plugins", "contrib")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in _imports(path)
        if _is_private(name)
    ]
    assert offenders == []
