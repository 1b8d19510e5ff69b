"""Loading plugins and collecting what they register.

Plugins are found through the ``qengine`` entry-point group; the first-party ones are
distributions like any third party's. Loading is explicit (nothing happens at import time) and
steered by environment variables:

``QENGINE_DISABLE_PLUGIN_AUTOLOAD``
    any non-empty value: load no entry point (only plugins passed explicitly).
``QENGINE_PLUGINS``
    a comma-separated allow-list of entry-point names.
``QENGINE_DISABLE_PLUGINS``
    a comma-separated block-list of entry-point names.
``QENGINE_TRACE_PLUGINS``
    any non-empty value: trace every hook call on standard error.

A plugin that fails to import or to register is reported (``qengine plugins``) and skipped,
unless loading is strict, in which case it is fatal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

import attrs
import pluggy

from qengine import hookspecs
from qengine._errors import PluginError, SpecIssue
from qengine.spec import BuildSpec, DnsSpec, Job, ProviderSpec, RegistrySpec, TargetSpec
from qengine.spec._load import SpecLoader
from qengine.spec._sections import PluginSection

ENTRY_POINT_GROUP = "qengine"


@attrs.frozen(kw_only=True)
class Registration:
    """One provider a plugin registered: its family, kind, spec class and factory."""

    family: str
    kind: str
    plugin: str
    spec_type: type[PluginSection] | None
    factory: Callable[[], object] = attrs.field(repr=False)
    description: str = ""


@attrs.frozen(kw_only=True)
class PluginInfo:
    """What is known of one plugin: where it came from and whether it loaded.

    ``distribution`` and ``version`` are read from the installed metadata when asked for, so
    loading plugins for a validation does not pay for parsing every plugin's metadata.
    """

    name: str
    loaded: bool
    error: str = ""
    provides: tuple[str, ...] = ()
    dist: metadata.Distribution | None = attrs.field(default=None, repr=False, eq=False)

    @property
    def distribution(self) -> str:
        """The name of the distribution that provides the plugin ("" for a host's plugin)."""
        return self.dist.name if self.dist is not None else ""

    @property
    def version(self) -> str:
        """The version of that distribution ("" for a host's plugin)."""
        return self.dist.version if self.dist is not None else ""


class Registry:
    """Collects the providers plugins register; refuses a kind registered twice."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Registration] = {}
        self._plugin = "<host>"

    def _add(
        self,
        family: str,
        kind: str,
        spec_type: type[PluginSection] | None,
        factory: Callable[[], object],
        description: str,
    ) -> None:
        existing = self._entries.get((family, kind))
        if existing is not None:
            raise PluginError(
                f"the {family} kind {kind!r} is registered by both plugin "
                f"{existing.plugin!r} and plugin {self._plugin!r}",
                hint="Disable one of them with QENGINE_DISABLE_PLUGINS.",
            )
        self._entries[(family, kind)] = Registration(
            family=family,
            kind=kind,
            plugin=self._plugin,
            spec_type=spec_type,
            factory=factory,
            description=description,
        )

    def add_cloud_provider(
        self,
        kind: str,
        spec_type: type[ProviderSpec],
        factory: Callable[[], object],
        description: str = "",
    ) -> None:
        """Register a cloud provider: ``cluster.provider`` sections of ``kind``."""
        self._add(ProviderSpec.family, kind, spec_type, factory, description)

    def add_target(
        self,
        kind: str,
        spec_type: type[TargetSpec],
        factory: Callable[[], object],
        description: str = "",
    ) -> None:
        """Register a cluster target (an environment engine): ``target`` sections of ``kind``."""
        self._add(TargetSpec.family, kind, spec_type, factory, description)

    def add_registry(
        self,
        kind: str,
        spec_type: type[RegistrySpec],
        factory: Callable[[], object],
        description: str = "",
    ) -> None:
        """Register a container registry: ``registry`` sections of ``kind``."""
        self._add(RegistrySpec.family, kind, spec_type, factory, description)

    def add_build_backend(
        self,
        kind: str,
        spec_type: type[BuildSpec],
        factory: Callable[[], object],
        description: str = "",
    ) -> None:
        """Register a build backend: ``build`` sections of ``kind``."""
        self._add(BuildSpec.family, kind, spec_type, factory, description)

    def add_dns_provider(
        self,
        kind: str,
        spec_type: type[DnsSpec],
        factory: Callable[[], object],
        description: str = "",
    ) -> None:
        """Register a DNS provider: ``dns`` sections of ``kind``."""
        self._add(DnsSpec.family, kind, spec_type, factory, description)

    def add_key_provider(
        self, kind: str, factory: Callable[[], object], description: str = ""
    ) -> None:
        """Register a key provider (engine configuration, not a job section)."""
        self._add("key provider", kind, None, factory, description)

    def entries(self) -> tuple[Registration, ...]:
        """Every registration, in registration order."""
        return tuple(self._entries.values())

    def get(self, family: str, kind: str) -> Registration:
        """The registration of ``kind`` in ``family``; PluginError if none."""
        try:
            return self._entries[(family, kind)]
        except KeyError:
            raise PluginError(f"no plugin provides the {family} kind {kind!r}") from None

    def section_kinds(self) -> dict[type[PluginSection], dict[str, type[PluginSection]]]:
        """For the converter: each section base class and its registered classes by kind."""
        bases = {
            base.family: base
            for base in (ProviderSpec, TargetSpec, RegistrySpec, BuildSpec, DnsSpec)
        }
        kinds: dict[type[PluginSection], dict[str, type[PluginSection]]] = {}
        for entry in self._entries.values():
            if entry.spec_type is not None and entry.family in bases:
                kinds.setdefault(bases[entry.family], {})[entry.kind] = entry.spec_type
        return kinds

    def _drop(self, plugin: str) -> None:
        self._entries = {key: e for key, e in self._entries.items() if e.plugin != plugin}

    def _scoped(self, plugin: str) -> Registry:
        self._plugin = plugin
        return self


def _env_list(name: str, environ: Mapping[str, str]) -> set[str] | None:
    value = environ.get(name, "").strip()
    return {item.strip() for item in value.split(",") if item.strip()} if value else None


class PluginSet:
    """The loaded plugins, their registrations, and a spec loader that knows their sections."""

    def __init__(
        self, manager: pluggy.PluginManager, registry: Registry, infos: Sequence[PluginInfo]
    ) -> None:
        self.manager = manager
        self.registry = registry
        self.plugins = tuple(infos)
        self._loader: SpecLoader | None = None

    @property
    def loader(self) -> SpecLoader:
        """The spec loader for this plugin set (built on first use)."""
        if self._loader is None:
            self._loader = SpecLoader(self.registry.section_kinds(), (self._check_job,))
        return self._loader

    def _check_job(self, job: Job) -> list[SpecIssue]:
        results = self.manager.hook.qengine_check_job(job=job)
        return [issue for result in results if result for issue in result]


def load_plugins(
    *,
    plugins: Iterable[tuple[str, object]] = (),
    autoload: bool | None = None,
    strict: bool = False,
    environ: Mapping[str, str] | None = None,
) -> PluginSet:
    """Load the ``qengine`` entry points (unless disabled) plus ``plugins`` given as
    ``(name, module-or-object)`` pairs, and collect their registrations.

    ``environ`` defaults to ``os.environ`` and is only read. With ``strict``, a plugin that
    fails to load or register raises :class:`~qengine.PluginError`.
    """
    env = os.environ if environ is None else environ
    manager = pluggy.PluginManager("qengine")
    manager.add_hookspecs(hookspecs)
    if env.get("QENGINE_TRACE_PLUGINS"):
        manager.trace.root.setwriter(sys.stderr.write)
        manager.enable_tracing()
    infos: dict[str, PluginInfo] = {}
    if autoload if autoload is not None else not env.get("QENGINE_DISABLE_PLUGIN_AUTOLOAD"):
        _load_entry_points(manager, infos, env, strict)
    for name, plugin in plugins:
        manager.register(plugin, name=name)
        infos[name] = PluginInfo(name=name, loaded=True)
    registry = Registry()
    _register_all(manager, registry, infos, strict)
    return PluginSet(manager, registry, list(infos.values()))


def _load_entry_points(
    manager: pluggy.PluginManager,
    infos: dict[str, PluginInfo],
    env: Mapping[str, str],
    strict: bool,
) -> None:
    allow = _env_list("QENGINE_PLUGINS", env)
    block = _env_list("QENGINE_DISABLE_PLUGINS", env) or set()
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        name = entry_point.name
        if (allow is not None and name not in allow) or name in block or name in infos:
            continue
        info = PluginInfo(name=name, loaded=True, dist=entry_point.dist)
        try:
            manager.register(entry_point.load(), name=name)
        except Exception as exc:  # a broken plugin must not take the engine down
            if strict:
                raise PluginError(f"plugin {name!r} failed to load: {exc}") from exc
            info = attrs.evolve(info, loaded=False, error=f"failed to load: {exc}")
        infos[name] = info


def _register_all(
    manager: pluggy.PluginManager, registry: Registry, infos: dict[str, PluginInfo], strict: bool
) -> None:
    # pluggy lists implementations in registration order: first loaded, first registered.
    for impl in manager.hook.qengine_register.get_hookimpls():
        name = impl.plugin_name
        before = len(registry.entries())
        try:
            impl.function(registry=registry._scoped(name))
        except Exception as exc:
            if strict:
                raise PluginError(f"plugin {name!r} failed to register: {exc}") from exc
            manager.unregister(name=name)
            registry._drop(name)
            infos[name] = attrs.evolve(
                infos[name], loaded=False, error=f"failed to register: {exc}"
            )
            continue
        provides = tuple(f"{e.family}: {e.kind}" for e in registry.entries()[before:])
        infos[name] = attrs.evolve(infos[name], provides=provides)


def describe(plugin_set: PluginSet) -> list[dict[str, Any]]:
    """The plugins as JSON-ready data, for ``qengine plugins --output json``."""
    return [
        {
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "loaded": info.loaded,
            "error": info.error,
            "provides": list(info.provides),
        }
        for info in plugin_set.plugins
    ]
