"""Engine-side Terraform settings: where providers and modules come from, never from a job.

A host configures them once (``Engine(settings={"terraform": TerraformSettings(...)})``, or the
CLI's ``--terraform-provider-mirror``, ``--terraform-plugin-cache`` and
``--terraform-module-dir``); plugins read them with :func:`terraform_settings_of`.

- ``sources``: the providers' origin (:class:`ProviderSources`). A mirror is the only source
  (no network); a plugin cache alone lets terraform download from the providers' registries
  into that cache. Both: the mirror is still the only source, and terraform keeps the
  providers it installs from it in the cache (links rather than copies per workspace).
- ``module_dir``: registry modules as local directories,
  ``<module_dir>/<namespace>/<name>/<provider>/<version>/`` (for example
  ``terraform-aws-modules/vpc/aws/6.6.0/``). None: modules come from the registry at init.

A mirror in either of terraform's layouts can be read back with :func:`mirror_versions`, so a
plugin can refuse a job before anything runs when the mirror cannot serve it.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from qengine._errors import InvalidInputError
from qengine.terraform.cliconfig import ProviderSources

if TYPE_CHECKING:
    from qengine._services import JobServices

#: Where terraform looks for a provider given as ``namespace/type``.
DEFAULT_REGISTRY = "registry.terraform.io"
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class TerraformSettingsError(InvalidInputError):
    """The engine's Terraform settings cannot serve a job (a mirror without the provider, a
    module directory without a pinned module, no provider source at all).

    A setting of the engine, not of the job: no ``$.path``, and retrying does not help.
    """


@attrs.frozen(kw_only=True)
class TerraformSettings:
    """Where terraform gets providers (``sources``) and registry modules (``module_dir``)."""

    sources: ProviderSources = attrs.field(factory=ProviderSources)
    module_dir: Path | None = None

    @property
    def can_install_providers(self) -> bool:
        """Whether any provider beyond the builtin ones can be installed (mirror or cache)."""
        return self.sources.mirror_dir is not None or self.sources.plugin_cache_dir is not None

    def module_path(self, source: str, version: str) -> Path | None:
        """The local directory of the registry module ``source`` at ``version``, or None when
        modules come from the registry. The path is absolute and need not exist."""
        if self.module_dir is None:
            return None
        return local_module_path(self.module_dir, source, version)


def local_module_path(module_dir: Path, source: str, version: str) -> Path:
    """``<module_dir>/<namespace>/<name>/<provider>/<version>``, absolute, for the registry
    module ``source`` (``namespace/name/provider``); ValueError for another form."""
    parts = source.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"not a registry module source: {source!r}")
    return module_dir.resolve().joinpath(*parts, version)


def terraform_settings_of(services: JobServices) -> TerraformSettings:
    """The Terraform settings a host gave a job's services, or the defaults (builtin
    providers only, registry modules).

    Read from the ``"terraform"`` settings, where ``Engine(settings=...)`` and the command
    line's ``--terraform-*`` options put them.
    """
    return services.settings_for("terraform", TerraformSettings) or TerraformSettings()


def current_platform() -> str:
    """Terraform's name for this machine's platform, such as ``linux_amd64``."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_ARCHES.get(machine, machine)}"


def mirror_versions(mirror: Path, provider: str, target: str | None = None) -> list[str]:
    """Versions of ``provider`` (``hashicorp/aws`` or ``host/namespace/type``) the filesystem
    mirror holds for ``target`` (default: this machine), in the unpacked layout
    (``HOST/NAMESPACE/TYPE/VERSION/TARGET/``) or the packed one
    (``HOST/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_TARGET.zip``). Sorted as text."""
    target = target or current_platform()
    parts = provider.split("/")
    host, namespace, kind = ([DEFAULT_REGISTRY] if len(parts) == 2 else []) + parts
    directory = mirror / host / namespace / kind
    if not directory.is_dir():
        return []
    packed = re.compile(rf"^terraform-provider-{re.escape(kind)}_(.+)_{re.escape(target)}\.zip$")
    found: set[str] = set()
    for entry in directory.iterdir():
        if entry.is_dir() and (entry / target).is_dir():
            found.add(entry.name)
        elif (match := packed.match(entry.name)) is not None and entry.is_file():
            found.add(match.group(1))
    return sorted(found)
