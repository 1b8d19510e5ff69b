"""The pinned community modules of the GKE blueprint, read from ``modules.json``.

``modules.json`` records, for each module at its pinned version, the names of its inputs and
outputs (and the keys of the map inputs the blueprint fills: ``node_pools``,
``master_authorized_networks``, ``subnets``, ``secondary_ranges``), and under ``requires`` the
Terraform and provider versions the module declares (what a provider mirror must hold). A test
checks that the blueprint sets no other input and reads no other output, so bumping a version
means updating that file from the module's release and running the tests.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from qengine.terraform.settings import local_module_path

NETWORK = "terraform-google-modules/network/google"
GKE = "terraform-google-modules/kubernetes-engine/google//modules/private-cluster"
_NOT_NESTED = ("version", "requires", "inputs", "outputs")


@attrs.frozen(kw_only=True)
class PinnedModule:
    """One module: its registry source, exact version, requirements and documented names."""

    source: str
    version: str
    inputs: frozenset[str]
    outputs: frozenset[str]
    nested: dict[str, frozenset[str]] = attrs.field(factory=dict)
    providers: dict[str, dict[str, str]] = attrs.field(factory=dict)
    required_terraform: str | None = None

    def source_arguments(self, module_dir: Path | None) -> dict[str, str]:
        """The ``source`` (and ``version``) of a module block: the registry at the pinned
        version, or the module's directory under ``module_dir``
        (``<module_dir>/<namespace>/<name>/<provider>/<version>/[<submodule>]``)."""
        if module_dir is None:
            return {"source": self.source, "version": self.version}
        package, _, submodule = self.source.partition("//")
        path = local_module_path(module_dir, package, self.version)
        return {"source": str(path / submodule if submodule else path)}


def pinned(source: str) -> PinnedModule:
    """The pinned module ``source`` (:data:`NETWORK` or :data:`GKE`)."""
    entry: dict[str, Any] = _load()[source]
    requires: dict[str, Any] = entry.get("requires", {})
    return PinnedModule(
        source=source,
        version=str(entry["version"]),
        inputs=frozenset(entry["inputs"]),
        outputs=frozenset(entry["outputs"]),
        nested={k: frozenset(v) for k, v in entry.items() if k not in _NOT_NESTED},
        providers={name: dict(value) for name, value in requires.get("providers", {}).items()},
        required_terraform=requires.get("terraform"),
    )


def _load() -> dict[str, Any]:
    text = resources.files("qengine_gcp").joinpath("modules.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
