"""The Terraform CLI configuration each workspace gets, built as data.

Terraform reads its CLI configuration with the HCL 1 parser, which also accepts JSON, so the
file is written with :func:`json.dump` like the root module. Block bodies are lists of objects
in that JSON form; that is how HCL 1 tells a block from an attribute.

Provider installation never touches the network unless asked to:

* no mirror, no cache: a filesystem mirror on an empty directory, and direct installation
  excluded for every provider. Builtin providers (``terraform_data``) still work.
* a provider mirror: that directory is the only source; direct installation stays excluded.
* a plugin cache directory: ``plugin_cache_dir`` is set and direct installation is allowed,
  so missing providers are downloaded once into the cache.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from qengine.terraform.json_types import Json

_ALL_PROVIDERS = ["*/*/*"]


@attrs.frozen(kw_only=True)
class ProviderSources:
    """Where providers may come from. Both ``None``: builtin providers only, no network."""

    mirror_dir: Path | None = None
    plugin_cache_dir: Path | None = None


def cli_config(sources: ProviderSources, empty_mirror: Path) -> dict[str, Json]:
    """The CLI configuration document for ``sources``; ``empty_mirror`` is an empty directory."""
    config: dict[str, Json] = {"provider_installation": [_installation(sources, empty_mirror)]}
    if sources.plugin_cache_dir is not None:
        # terraform runs in the workspace: a relative path would point inside it.
        config["plugin_cache_dir"] = str(sources.plugin_cache_dir.absolute())
    return config


def _installation(sources: ProviderSources, empty_mirror: Path) -> dict[str, Json]:
    if sources.mirror_dir is None and sources.plugin_cache_dir is not None:
        return {"direct": [{}]}
    mirror = sources.mirror_dir if sources.mirror_dir is not None else empty_mirror
    return {
        "filesystem_mirror": [{"path": str(mirror.absolute()), "include": list(_ALL_PROVIDERS)}],
        "direct": [{"exclude": list(_ALL_PROVIDERS)}],
    }
