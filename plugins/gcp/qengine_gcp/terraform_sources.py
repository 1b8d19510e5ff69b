"""Can terraform get what the real blueprint needs? Answered before any Google call.

A real (non-sandbox) run needs the ``hashicorp/google`` provider (and the GKE module's
``kubernetes`` and ``random``), which the core driver installs only from a filesystem mirror
or, with a plugin cache, from the registry; and the two pinned modules, from the registry or
the engine's module directory. Only what can be seen on disk is checked: a plugin cache alone
(network installs) and registry modules are trusted.
"""

from __future__ import annotations

from pathlib import Path

from qengine.terraform import TerraformSettings, TerraformSettingsError, mirror_versions
from qengine.terraform.settings import current_platform
from qengine.terraform.versions import satisfies
from qengine_gcp.modules import GKE, NETWORK, pinned

_FLAGS = "--terraform-provider-mirror DIR or --terraform-plugin-cache DIR"


def provider_constraints() -> dict[str, str]:
    """Every provider the pinned modules require, with all their constraints joined."""
    found: dict[str, list[str]] = {}
    for source in (NETWORK, GKE):
        for requirement in pinned(source).providers.values():
            found.setdefault(requirement["source"], []).append(requirement["version"])
    return {name: ", ".join(dict.fromkeys(parts)) for name, parts in found.items()}


def check_terraform_sources(settings: TerraformSettings) -> None:
    """Raise :class:`TerraformSettingsError` unless terraform can install the providers and,
    when a module directory is set, find both pinned modules in it."""
    if not settings.can_install_providers:
        raise TerraformSettingsError(
            "terraform has no way to get the hashicorp/google provider: the engine has no "
            "provider mirror and no plugin cache",
            hint=f"Give the engine {_FLAGS}; make a mirror with `terraform providers mirror "
            "DIR` in a directory holding the module `qengine export` writes.",
        )
    if settings.sources.mirror_dir is not None:
        for provider, constraint in provider_constraints().items():
            _check_mirror(settings.sources.mirror_dir, provider, constraint)
    for source in (NETWORK, GKE):
        module = pinned(source)
        path = settings.module_path(module.source.partition("//")[0], module.version)
        if path is not None and not any(path.glob("*.tf")):
            raise TerraformSettingsError(
                f"the module directory lacks {module.source} {module.version}: expected it "
                f"at {path}",
                hint="Put that version of the module there, or drop --terraform-module-dir "
                "to fetch modules from the registry.",
            )


def _check_mirror(mirror: Path, provider: str, constraint: str) -> None:
    target = current_platform()
    found = mirror_versions(mirror, provider, target)
    if any(satisfies(version, constraint) for version in found):
        return
    raise TerraformSettingsError(
        f"the provider mirror {mirror} holds no {provider} version for {target} satisfying "
        f"{constraint!r} (versions there: {', '.join(found) or 'none'})",
        hint=f"Add one with `terraform providers mirror -platform={target} {mirror}` in a "
        "directory holding the module `qengine export` writes.",
    )
