"""A contract suite every qengine plugin should pass: subclass it in the plugin's tests.

```python
from qengine.testing.plugin_contract import PluginContract

class TestMyPlugin(PluginContract):
    plugin_name = "moon"            # the plugin's entry-point name
    sdk_modules = ("moon_sdk",)     # modules validation must not import
```

The suite loads the plugin through its real entry point, strictly, and checks what the engine
relies on: it registers something, each section class is a frozen attrs class whose ``kind`` is
the ``Literal`` it was registered under, the JSON Schema includes it, and loading the plugin
imports none of the SDK modules named.
"""

from __future__ import annotations

import subprocess
import sys
import typing
from typing import ClassVar, Literal

import attrs

from qengine._plugins import PluginSet, load_plugins
from qengine.spec._schema import job_schema


class PluginContract:
    """Base class of a plugin's contract tests (pytest collects the ``test_`` methods)."""

    plugin_name: ClassVar[str]
    sdk_modules: ClassVar[tuple[str, ...]] = ()

    def _plugins(self) -> PluginSet:
        return load_plugins(strict=True, environ={"QENGINE_PLUGINS": self.plugin_name})

    def test_loads_from_its_entry_point(self) -> None:
        (info,) = self._plugins().plugins
        assert info.name == self.plugin_name
        assert info.loaded, info.error
        assert info.distribution, "the plugin must come from an installed distribution"

    def test_registers_something(self) -> None:
        assert self._plugins().registry.entries(), "the plugin registered nothing"

    def test_sections_are_frozen_attrs_tagged_by_kind(self) -> None:
        for entry in self._plugins().registry.entries():
            spec_type = entry.spec_type
            if spec_type is None:
                continue
            assert attrs.has(spec_type), f"{spec_type.__name__} is not an attrs class"
            assert spec_type.__setattr__ is not object.__setattr__, "sections must be frozen"
            kind = typing.get_type_hints(spec_type)["kind"]
            assert typing.get_origin(kind) is Literal
            assert typing.get_args(kind) == (entry.kind,), f"kind of {spec_type.__name__}"

    def test_schema_includes_every_section(self) -> None:
        plugins = self._plugins()
        definitions = job_schema(plugins.registry.section_kinds())["$defs"]
        for entry in plugins.registry.entries():
            if entry.spec_type is not None:
                assert entry.spec_type.__name__ in definitions

    def test_loading_imports_no_sdk(self) -> None:
        if not self.sdk_modules:
            return
        script = (
            "import sys; from qengine import load_plugins; "
            f"load_plugins(strict=True, environ={{'QENGINE_PLUGINS': {self.plugin_name!r}}}); "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {self.sdk_modules!r}))"
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == "[]", f"loading imported {result.stdout.strip()}"
