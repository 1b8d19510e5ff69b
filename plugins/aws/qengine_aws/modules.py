"""The pinned community modules of the EKS blueprint, read from ``modules.json``.

``modules.json`` records, for each module at its pinned version, the names of its inputs and
outputs (and of the attributes of the map inputs the blueprint fills), and under ``requires``
the Terraform and provider versions the module declares (what a provider mirror must hold).
A test checks that the blueprint sets no other input and reads no other output, so bumping a
version means updating that file from the module's documentation and running the tests.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import attrs

VPC = "terraform-aws-modules/vpc/aws"
EKS = "terraform-aws-modules/eks/aws"


_NOT_NESTED = ("version", "requires", "inputs", "outputs")


@attrs.frozen(kw_only=True)
class ProviderRequirement:
    """A provider a module requires: ``source`` (``hashicorp/aws``) and version constraint."""

    source: str
    version: str


@attrs.frozen(kw_only=True)
class PinnedModule:
    """One module: its registry source, exact version, requirements and documented names."""

    source: str
    version: str
    inputs: frozenset[str]
    outputs: frozenset[str]
    nested: dict[str, frozenset[str]] = attrs.field(factory=dict)
    providers: dict[str, ProviderRequirement] = attrs.field(factory=dict)
    required_terraform: str | None = None


def pinned(source: str) -> PinnedModule:
    """The pinned module ``source`` (``VPC`` or ``EKS``)."""
    entry: dict[str, Any] = _load()[source]
    nested = {key: frozenset(value) for key, value in entry.items() if key not in _NOT_NESTED}
    requires: dict[str, Any] = entry.get("requires", {})
    providers = {
        name: ProviderRequirement(source=str(given["source"]), version=str(given["version"]))
        for name, given in requires.get("providers", {}).items()
    }
    return PinnedModule(
        source=source,
        version=str(entry["version"]),
        inputs=frozenset(entry["inputs"]),
        outputs=frozenset(entry["outputs"]),
        nested=nested,
        providers=providers,
        required_terraform=requires.get("terraform"),
    )


def _load() -> dict[str, Any]:
    text = resources.files("qengine_aws").joinpath("modules.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
