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
import importlib
import os
import re
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from importlib.machinery import PathFinder
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import pluggy

from qengine import hookspecs
from qengine._errors import InvalidInputError, PluginError, SpecIssue
from qengine._registry import Registry
from qengine.spec import Job
from qengine.spec._load import SpecLoader

if TYPE_CHECKING:
    from importlib import metadata

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
    dist_path: str = attrs.field(default="", repr=False, eq=False)

    def _distribution(self) -> metadata.Distribution | None:
        if self.dist is None and self.dist_path:
            from importlib import metadata

            return metadata.PathDistribution(Path(self.dist_path))
        return self.dist

    @property
    def distribution(self) -> str:
        """The name of the distribution that provides the plugin ("" for a host's plugin)."""
        dist = self._distribution()
        return dist.name if dist is not None else ""

    @property
    def version(self) -> str:
        """The version of that distribution ("" for a host's plugin)."""
        dist = self._distribution()
        return dist.version if dist is not None else ""


class _EntryPoint(Protocol):
    @property
    def name(self) -> str: ...

    def load(self) -> Any: ...


@attrs.frozen
class _ListedEntryPoint:
    """An entry point read from the ``entry_points.txt`` of a distribution in ``dist_path``."""

    name: str
    value: str
    dist_path: str

    def load(self) -> Any:
        """The object named by ``module:attribute`` (extras in brackets are ignored)."""
        module, _, attribute = self.value.partition("[")[0].partition(":")
        loaded: Any = importlib.import_module(module.strip())
        for part in filter(None, attribute.strip().split(".")):
            loaded = getattr(loaded, part)
        return loaded


_METADATA_DIR = re.compile(r"(?i)(?P<name>[^-]+)(-[^/]*)?\.(dist|egg)-info")


def _entry_points(group: str) -> list[_EntryPoint] | None:
    """The entry points of ``group``, read from the distributions' metadata directories in
    ``sys.path`` order (the first distribution of a name wins, as in importlib.metadata).

    importlib.metadata finds the same, but importing it (it imports the email package) and its
    scan took a tenth of a cold ``qengine validate`` with some 200 distributions installed;
    this reads one small file per distribution that has entry points. ``None`` where
    importlib.metadata could find distributions this does not look for: a distribution finder
    on ``sys.meta_path`` besides the standard one, or a path entry that is a zip archive or an
    egg.
    """
    if any(f is not PathFinder and hasattr(f, "find_distributions") for f in sys.meta_path):
        return None
    found: list[_EntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        directory = entry or "."
        if os.path.isfile(directory) or directory.lower().endswith(".egg"):
            return None
        try:
            children = os.listdir(directory)
        except OSError:
            continue
        for child in children:
            match = _METADATA_DIR.fullmatch(child)
            if match is None:
                continue
            name = re.sub(r"[-_.]+", "_", match["name"]).lower()
            if name in seen:
                continue
            seen.add(name)
            path = os.path.join(directory, child)
            found += _listed(path, group)
    return found


def _listed(path: str, group: str) -> list[_EntryPoint]:
    try:
        with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as listing:
            text = listing.read()
    except OSError:  # no entry points, or an egg-info file rather than a directory
        return []
    section, found = "", list[_EntryPoint]()
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            found.append(_ListedEntryPoint(name.strip(), value.strip(), path))
    return found


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
    listed = _entry_points(ENTRY_POINT_GROUP)
    if listed is None:
        from importlib import metadata

        listed = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    entry_points = sorted(listed, key=lambda e: e.name)
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
        info = PluginInfo(
            name=name,
            loaded=True,
            dist=getattr(entry_point, "dist", None),
            dist_path=getattr(entry_point, "dist_path", ""),
        )
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
