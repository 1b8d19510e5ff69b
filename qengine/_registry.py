"""The registry: what each plugin provides, by family and kind, and the factories that build it.

A plugin calls ``registry.add_...`` inside its ``qengine_register`` hook. Each call names a
``kind`` (the value of a spec section's ``kind``), the attrs class of that section, and a
factory. The engine calls the factory when a job needs that kind, with the job's section and
its :class:`~qengine.plugin.JobServices`, and checks that it got the interface it expects:

==================  ==========================  ===========================================
family              registered with             the factory returns
==================  ==========================  ===========================================
cloud provider      :meth:`add_cloud_provider`  an :class:`~qengine.interfaces.InfraEngine`
target              :meth:`add_target`          an :class:`~qengine.interfaces.EnvEngine`
container registry  :meth:`add_registry`        a :class:`~qengine.interfaces.ContainerRegistry`
build backend       :meth:`add_build_backend`   a :class:`~qengine.interfaces.BuildBackend`
DNS provider        :meth:`add_dns_provider`    a :class:`~qengine.interfaces.DnsProvider`
key provider        :meth:`add_key_provider`    a :class:`~qengine.interfaces.KeyProvider`
==================  ==========================  ===========================================

Factories run while a job is planned: they must be cheap, make no network call and open no
secret (that happens in the steps). Import the plugin's SDK inside the factory, never at module
level, so loading plugins for ``qengine validate`` stays fast. For the same reason a section
class may be named by its import path, ``"package.module:Class"``: it is imported only when a
job has a section of its kind (or the schema is asked for).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from qengine._errors import PluginError
from qengine.spec import BuildSpec, DnsSpec, ProviderSpec, RegistrySpec, TargetSpec
from qengine.spec._sections import PluginSection

if TYPE_CHECKING:
    from qengine._services import JobServices
    from qengine.interfaces import (
        BuildBackend,
        ContainerRegistry,
        DnsProvider,
        EnvEngine,
        InfraEngine,
        KeyProvider,
    )

P = TypeVar("P", bound=ProviderSpec)
T = TypeVar("T", bound=TargetSpec)
R = TypeVar("R", bound=RegistrySpec)
B = TypeVar("B", bound=BuildSpec)
D = TypeVar("D", bound=DnsSpec)
I = TypeVar("I")  # noqa: E741 -- the interface a factory returns

KEY_PROVIDER = "key provider"
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_BASES: dict[str, type[PluginSection]] = {
    base.family: base for base in (ProviderSpec, TargetSpec, RegistrySpec, BuildSpec, DnsSpec)
}


@attrs.frozen(kw_only=True)
class Registration:
    """One provider a plugin registered: its family, kind, spec class and factory.

    ``spec_type`` may be given as an import path (``"package.module:Class"``); the class is
    imported the first time ``spec_type`` is read.
    """

    family: str
    kind: str
    plugin: str
    _spec_type: type[PluginSection] | str | None = attrs.field(alias="spec_type", repr=False)
    factory: Callable[..., object] = attrs.field(repr=False)
    description: str = ""
    _resolved: list[type[PluginSection]] = attrs.field(init=False, factory=list, eq=False)

    @property
    def spec_type(self) -> type[PluginSection] | None:
        """The section class (imported now if it was registered by its import path)."""
        if not isinstance(self._spec_type, str):
            return self._spec_type
        if not self._resolved:
            self._resolved.append(self._import(self._spec_type))
        return self._resolved[0]

    def _import(self, path: str) -> type[PluginSection]:
        module, _, name = path.partition(":")
        what = (
            f"plugin {self.plugin!r} registered the {self.family} kind {self.kind!r} with {path!r}"
        )
        try:
            found: object = importlib.import_module(module)
            for part in name.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"{what}, which cannot be imported: {exc}") from exc
        base = _BASES.get(self.family, PluginSection)
        if not (isinstance(found, type) and issubclass(found, base)):
            raise PluginError(f"{what}, which is not a subclass of {base.__name__}")
        return found


class Registry:
    """Collects the providers plugins register; refuses a kind registered twice."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Registration] = {}
        self._plugin = "<host>"

    def _add(
        self,
        family: str,
        kind: str,
        spec_type: type[PluginSection] | str | None,
        factory: Callable[..., object],
        description: str,
    ) -> None:
        if isinstance(spec_type, str) and not _IMPORT_PATH.fullmatch(spec_type):
            raise PluginError(
                f"plugin {self._plugin!r} registered the {family} kind {kind!r} with the "
                f"section {spec_type!r}, which is no import path (package.module:Class)"
            )
        if not callable(factory):
            raise PluginError(
                f"plugin {self._plugin!r} registered the {family} kind {kind!r} with a factory "
                f"that is not callable ({type(factory).__name__})"
            )
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
        spec_type: type[P] | str,
        factory: Callable[[P, JobServices], InfraEngine],
        description: str = "",
    ) -> None:
        """Register a cloud provider: ``cluster.provider`` sections of ``kind``.

        ``factory(section, services)`` builds the infrastructure engine of one job.
        """
        self._add(ProviderSpec.family, kind, spec_type, factory, description)

    def add_target(
        self,
        kind: str,
        spec_type: type[T] | str,
        factory: Callable[[T, JobServices], EnvEngine],
        description: str = "",
    ) -> None:
        """Register a cluster target: ``target`` sections of ``kind``.

        ``factory(section, services)`` builds the environment engine of one job.
        """
        self._add(TargetSpec.family, kind, spec_type, factory, description)

    def add_registry(
        self,
        kind: str,
        spec_type: type[R] | str,
        factory: Callable[[R, JobServices], ContainerRegistry],
        description: str = "",
    ) -> None:
        """Register a container registry: ``registry`` sections of ``kind``.

        ``factory(section, services)`` builds the registry a job pushes to and pulls from.
        """
        self._add(RegistrySpec.family, kind, spec_type, factory, description)

    def add_build_backend(
        self,
        kind: str,
        spec_type: type[B] | str,
        factory: Callable[[B, JobServices], BuildBackend],
        description: str = "",
    ) -> None:
        """Register a build backend: ``build`` sections of ``kind``.

        ``factory(section, services)`` builds the backend the job's build steps use.
        """
        self._add(BuildSpec.family, kind, spec_type, factory, description)

    def add_dns_provider(
        self,
        kind: str,
        spec_type: type[D] | str,
        factory: Callable[[D, JobServices], DnsProvider],
        description: str = "",
    ) -> None:
        """Register a DNS provider: ``dns`` sections of ``kind``.

        ``factory(section, services)`` builds the provider of the job's DNS zone.
        """
        self._add(DnsSpec.family, kind, spec_type, factory, description)

    def add_key_provider(
        self,
        kind: str,
        factory: Callable[[Mapping[str, object]], KeyProvider],
        description: str = "",
    ) -> None:
        """Register a key provider: the ``provider`` of a sealed job's data key.

        ``factory(settings)`` builds it from the engine's per-plugin settings (``Engine(
        settings=...)``), when a job sealed under ``kind`` is opened by an engine whose own
        key provider is of another kind.
        """
        self._add(KEY_PROVIDER, kind, None, factory, description)

    def entries(self) -> tuple[Registration, ...]:
        """Every registration, in registration order."""
        return tuple(self._entries.values())

    def provides(self, family: str, kind: str) -> bool:
        """Whether a plugin registered ``kind`` in ``family``."""
        return (family, kind) in self._entries

    def get(self, family: str, kind: str) -> Registration:
        """The registration of ``kind`` in ``family``; PluginError if none."""
        try:
            return self._entries[(family, kind)]
        except KeyError:
            raise PluginError(f"no plugin provides the {family} kind {kind!r}") from None

    def build(
        self, section: PluginSection, services: JobServices, interface: Callable[..., I]
    ) -> I:
        """Call the factory registered for ``section``'s kind; PluginError naming the plugin
        when it fails or returns something other than an ``interface`` (a class: typed as a
        callable so that an abstract interface may be given)."""
        entry = self.get(section.family, section.kind)
        return _checked(entry, interface, lambda: entry.factory(section, services))

    def key_provider(self, kind: str, settings: Mapping[str, object]) -> KeyProvider:
        """Build the key provider registered as ``kind`` from the engine's settings."""
        from qengine.interfaces.keys import KeyProvider

        entry = self.get(KEY_PROVIDER, kind)
        return _checked(entry, KeyProvider, lambda: entry.factory(settings))

    def section_kinds(self) -> dict[type[PluginSection], Mapping[str, type[PluginSection]]]:
        """For the converter: each section base class and its registered classes by kind.

        A class registered by its import path is imported when its kind is looked up, so a
        job imports only the section classes of the kinds it has.
        """
        kinds: dict[type[PluginSection], dict[str, Registration]] = {}
        for entry in self._entries.values():
            if entry._spec_type is not None and entry.family in _BASES:
                kinds.setdefault(_BASES[entry.family], {})[entry.kind] = entry
        return {base: _SectionClasses(entries) for base, entries in kinds.items()}

    def _drop(self, plugin: str) -> None:
        self._entries = {key: e for key, e in self._entries.items() if e.plugin != plugin}

    def _scoped(self, plugin: str) -> Registry:
        self._plugin = plugin
        return self


class _SectionClasses(Mapping[str, "type[PluginSection]"]):
    """The section classes of one family by kind, each imported when first looked up."""

    def __init__(self, entries: dict[str, Registration]) -> None:
        self._entries = entries

    def __getitem__(self, kind: str) -> type[PluginSection]:
        try:
            spec_type = self._entries[kind].spec_type
        except PluginError as exc:  # read while a job is structured: reported at its path
            raise ValueError(str(exc)) from exc
        assert spec_type is not None  # section_kinds lists only entries with a section class
        return spec_type

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, kind: object) -> bool:
        return kind in self._entries


def _checked(entry: Registration, interface: Callable[..., I], call: Callable[[], Any]) -> I:
    what = f"the {entry.family} {entry.kind!r} of plugin {entry.plugin!r}"
    try:
        built = call()
    except PluginError:
        raise
    except TypeError as exc:
        raise PluginError(
            f"{what} could not be built: {exc}",
            hint="A factory takes (section, services); a key provider's takes (settings).",
        ) from exc
    expected = cast(type, interface)
    if not isinstance(built, expected):
        raise PluginError(
            f"{what} built a {type(built).__name__}, not a {expected.__name__}",
            hint=f"Its factory must return an implementation of {expected.__name__}.",
        )
    return cast(I, built)
