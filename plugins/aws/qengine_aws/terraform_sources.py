"""Can terraform get what the real blueprint needs? Answered before any AWS call.

A real (non-sandbox) run needs the ``hashicorp/aws`` provider, which the core driver installs
only from a filesystem mirror or, with a plugin cache, from its registry; and the two pinned
modules, from the registry or from the engine's module directory. The ``aws.preflight`` step
calls :func:`check_terraform_sources` first, so a job the engine cannot serve is refused
before any AWS request and before the state backend is touched. Only what can be seen on
disk is checked: a plugin cache alone (network installs) and registry modules are trusted.
"""

from __future__ import annotations

from pathlib import Path

from qengine.terraform import TerraformSettings, TerraformSettingsError, mirror_versions
from qengine.terraform.settings import DEFAULT_REGISTRY, current_platform
from qengine.terraform.versions import satisfies
from qengine_aws.blueprint import AWS_PROVIDER
from qengine_aws.modules import EKS, VPC, pinned

AWS_SOURCE = "hashicorp/aws"
_FLAGS = "--terraform-provider-mirror DIR or --terraform-plugin-cache DIR"


def aws_provider_constraint() -> str:
    """Every constraint on ``hashicorp/aws``: the root module's and each pinned module's."""
    parts = [AWS_PROVIDER]
    for source in (VPC, EKS):
        parts += [req.version for req in pinned(source).providers.values() if _is_aws(req.source)]
    return ", ".join(dict.fromkeys(parts))


def check_terraform_sources(settings: TerraformSettings) -> None:
    """Raise :class:`TerraformSettingsError` unless terraform can install the AWS provider
    and, when a module directory is set, find both pinned modules in it."""
    if not settings.can_install_providers:
        raise TerraformSettingsError(
            "terraform has no way to get the hashicorp/aws provider: the engine has no "
            "provider mirror and no plugin cache",
            hint=f"Give the engine {_FLAGS} (Engine settings: "
            '{"terraform": TerraformSettings(sources=ProviderSources(...))}); '
            "make a mirror with `terraform providers mirror DIR` in a directory holding "
            "the module `qengine export` writes.",
        )
    if settings.sources.mirror_dir is not None:
        _check_mirror(settings.sources.mirror_dir)
    for source in (VPC, EKS):
        _check_module(settings, source)


def _check_mirror(mirror: Path) -> None:
    constraint = aws_provider_constraint()
    target = current_platform()
    found = mirror_versions(mirror, AWS_SOURCE, target)
    if any(satisfies(version, constraint) for version in found):
        return
    held = ", ".join(found) if found else "none"
    raise TerraformSettingsError(
        f"the provider mirror {mirror} holds no {DEFAULT_REGISTRY}/{AWS_SOURCE} version for "
        f"{target} satisfying {constraint!r} (versions there: {held})",
        hint=f"Add one with `terraform providers mirror -platform={target} {mirror}` in a "
        "directory holding the module `qengine export` writes, or give "
        "--terraform-plugin-cache DIR instead of the mirror.",
    )


def _check_module(settings: TerraformSettings, source: str) -> None:
    module = pinned(source)
    path = settings.module_path(module.source, module.version)
    if path is None or _holds_module(path):
        return
    raise TerraformSettingsError(
        f"the module directory lacks {module.source} {module.version}: expected it at {path}",
        hint=f"Put version {module.version} of the module there (its .tf files at the top), "
        "or drop --terraform-module-dir to fetch modules from the registry.",
    )


def _holds_module(path: Path) -> bool:
    if not path.is_dir():
        return False
    return any(path.glob("*.tf")) or any(path.glob("*.tf.json"))


def _is_aws(source: str) -> bool:
    return source in (AWS_SOURCE, f"{DEFAULT_REGISTRY}/{AWS_SOURCE}")
