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

A name in either list that is no installed plugin is named on standard error, with the
installed ones and the closest match, since a misspelled allow-list would otherwise hide every
plugin without a word; an allow-list that names no installed plugin at all is refused
(:class:`~qengine.InvalidInputError`, exit 2).
``QENGINE_TRACE_PLUGINS``
    any non-empty value: trace every hook call on standard error.

A plugin that fails to import or to register is reported (``qengine plugins``) and skipped,
unless loading is strict, in which case it is fatal. So is a plugin with a hook the engine does
not know: a function marked ``@hookimpl`` (or named ``qengine_...``) whose name is no hook of
:mod:`qengine.hookspecs`, or an implementation that asks for an argument its hook does not
offer. Such a hook would never be called; the plugin is refused at load, naming the hook.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

import attrs
import pluggy

from qengine import hookspecs
from qengine._errors import InvalidInputError, PluginError, SpecIssue
from qengine._registry import Registry
from qengine.spec import Job
from qengine.spec._load import SpecLoader

ENTRY_POINT_GROUP = "qengine"


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
    plugins = list(plugins)
    if autoload if autoload is not None else not env.get("QENGINE_DISABLE_PLUGIN_AUTOLOAD"):
        _load_entry_points(manager, infos, env, strict, [name for name, _ in plugins])
    for name, plugin in plugins:
        info = PluginInfo(name=name, loaded=True)
        try:
            register_checked(manager, plugin, name)
        except PluginError as exc:
            if strict:
                raise
            info = attrs.evolve(info, loaded=False, error=str(exc))
        infos[name] = info
    registry = Registry()
    _register_all(manager, registry, infos, strict)
    return PluginSet(manager, registry, list(infos.values()))


def _load_entry_points(
    manager: pluggy.PluginManager,
    infos: dict[str, PluginInfo],
    env: Mapping[str, str],
    strict: bool,
    given: Collection[str],
) -> None:
    entry_points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    installed = sorted({e.name for e in entry_points} | set(given))
    allow = _env_list("QENGINE_PLUGINS", env)
    block = _env_list("QENGINE_DISABLE_PLUGINS", env) or set()
    if allow is not None and not allow & set(installed):
        close = _close(allow, installed)
        raise InvalidInputError(
            f"QENGINE_PLUGINS names no installed plugin ({', '.join(sorted(allow))}), "
            "so no plugin would load",
            hint=(f"Did you mean {close}? " if close else "")
            + f"Installed plugins: {', '.join(installed) or 'none'}. To load no plugin, set "
            "QENGINE_DISABLE_PLUGIN_AUTOLOAD=1 instead.",
        )
    _check_names("QENGINE_PLUGINS", allow or set(), installed)
    _check_names("QENGINE_DISABLE_PLUGINS", block, installed)
    for entry_point in entry_points:
        name = entry_point.name
        if (allow is not None and name not in allow) or name in block or name in infos:
            continue
        info = PluginInfo(name=name, loaded=True, dist=entry_point.dist)
        try:
            plugin = entry_point.load()
        except Exception as exc:  # a broken plugin must not take the engine down
            if strict:
                raise PluginError(f"plugin {name!r} failed to load: {exc}") from exc
            infos[name] = attrs.evolve(info, loaded=False, error=f"failed to load: {exc}")
            continue
        try:
            register_checked(manager, plugin, name)
        except PluginError as exc:
            if strict:
                raise
            info = attrs.evolve(info, loaded=False, error=str(exc))
        infos[name] = info


def _check_names(variable: str, names: set[str], installed: Sequence[str]) -> None:
    """Name on standard error each of ``names`` that is no installed plugin: a typo in an
    allow-list would otherwise hide every plugin, one in a block-list would hide none."""
    for name in sorted(names - set(installed)):
        close = _close({name}, installed)
        print(
            f"warning: {variable} names {name!r}, which is no installed plugin"
            + (f" (did you mean {close}?)" if close else "")
            + f"; installed plugins: {', '.join(installed) or 'none'}",
            file=sys.stderr,
        )


def _close(names: set[str], installed: Sequence[str]) -> str:
    """The installed names closest to ``names``, quoted, for a "did you mean" ("" if none)."""
    guesses = {guess for name in names for guess in difflib.get_close_matches(name, installed, n=1)}
    return " or ".join(repr(guess) for guess in sorted(guesses))


def register_checked(manager: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Register ``plugin`` as ``name``, refusing a hook the engine would never call.

    Raises :class:`~qengine.PluginError` naming the plugin and the hook for a ``qengine_...``
    function that is no hook (misspelled), a ``@hookimpl`` whose name is no hook, or an
    implementation asking for an argument its hook does not offer (mis-signed).
    """
    known = _hook_names()
    for attribute in dir(plugin):
        hook_like = attribute.startswith("qengine_") and attribute not in known
        if hook_like and callable(getattr(plugin, attribute, None)):
            raise _unknown_hook(name, attribute, known)
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        if manager.is_registered(plugin):  # pluggy keeps a plugin whose hook it refused
            manager.unregister(plugin)
        raise PluginError(
            f"plugin {name!r} failed to load: {exc}".rstrip(),
            hint="A hook implementation may take fewer arguments than its hook, never others.",
        ) from exc
    for caller in manager.get_hookcallers(plugin) or ():
        if not caller.has_spec():
            manager.unregister(name=name)
            raise _unknown_hook(name, caller.name, known)


def _hook_names() -> frozenset[str]:
    return frozenset(n for n in vars(hookspecs) if n.startswith("qengine_"))


def _unknown_hook(plugin: str, hook: str, known: frozenset[str]) -> PluginError:
    close = difflib.get_close_matches(hook, sorted(known), n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return PluginError(
        f"plugin {plugin!r} failed to load: {hook!r} is not a qengine hook{guess}",
        hint="The hooks are listed in docs/hooks.md; a misspelled hook would never be called.",
    )


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
