"""Pieces shared by the sub-commands: plugin loading, reading specs, JSON output."""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import sys
from collections.abc import Mapping
from pathlib import Path

from qengine._errors import InvalidInputError, PluginError, SpecError, SpecIssue
from qengine._plugins import PluginSet, load_plugins
from qengine.spec import Job
from qengine.spec._document import MAX_DOCUMENT_BYTES, parse_document, read_document

#: The output formats of ``-o``/``--output``.
FORMATS = ("text", "json")


def add_output_option(parser: argparse.ArgumentParser) -> None:
    """``--output text|json``."""
    parser.add_argument(
        "--output",
        "-o",
        choices=FORMATS,
        default="text",
        help="output format (default: text)",
    )


class _FormatOrRenamed(argparse.Action):
    """``-o``/``--output``: the output format, ``text`` or ``json``, as in every command; any
    other value is the old spelling of the output path option, refused with the new one named.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        if values in FORMATS:
            namespace.output = values
            return
        flag, metavar = self.const
        raise InvalidInputError(
            f"{parser.prog} writes to {flag} {metavar}, and {option_string} {values} is not an "
            f"output format: {option_string} means the output format (text or json) in every "
            "command",
            hint=f"Use {flag} {values}.",
        )


def add_path_option(
    parser: argparse.ArgumentParser,
    flag: str,
    *,
    metavar: str,
    help: str,
    old: tuple[str, ...],
    required: bool = True,
) -> None:
    """An output path option ``flag``, and ``-o``/``--output`` as the output format: a value of
    those (or of another spelling in ``old``) that is not a format is refused (exit 2), naming
    ``flag``, since ``-o``/``--output`` is the output format everywhere."""
    parser.add_argument(flag, type=pathlib.Path, required=required, metavar=metavar, help=help)
    parser.add_argument(
        "-o", "--output", *old, action=_FormatOrRenamed, const=(flag, metavar), default="text",
        metavar="text|json", dest="output", help="output format (default: text)",
    )  # fmt: skip


def plugin_set(args: argparse.Namespace, *, warn: bool = True) -> PluginSet:
    """The plugins for this invocation: ``--plugin`` modules, then the entry points (loaded
    once per command line: the set loaded to read plugin options is reused).

    Each plugin that failed to load is named on standard error with why (``warn``), so a job
    whose kind it would have provided is not left unexplained.
    """
    loaded = getattr(args, "loaded_plugins", None)
    if isinstance(loaded, PluginSet):
        return loaded
    extra = []
    for name in getattr(args, "plugin", None) or ():
        try:
            extra.append((name, importlib.import_module(name)))
        except ImportError as exc:
            raise InvalidInputError(f"cannot import the plugin module {name!r}: {exc}") from None
    plugins = load_plugins(plugins=extra, strict=bool(getattr(args, "strict_plugins", False)))
    if warn:
        for info in plugins.plugins:
            if not info.loaded:
                print(f"warning: plugin {info.name!r} is disabled: {info.error}", file=sys.stderr)
    args.loaded_plugins = plugins
    return plugins


def read_spec_document(spec: str) -> dict[str, object]:
    """The job document at ``spec`` (``-`` for standard input), within the input limits."""
    if spec == "-":
        document = parse_document(sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1), "<stdin>")
    elif Path(spec).is_dir():
        raise InvalidInputError(f"{spec} is a directory, not a job spec file")
    else:
        document = read_document(Path(spec))
    return document


def refuse_sealed_sandbox(document: Mapping[str, object], args: argparse.Namespace) -> None:
    """Refuse a job carrying sealed secrets whose target is the sandbox, unless a plugin's
    ``--kubeconfig`` sends it to a cluster: only a ``--sandbox`` run deploys to the sandbox,
    and it takes plain-text demo secrets, so the job could never run as it is."""
    target = document.get("target")
    if document.get("secrets") is None or not isinstance(target, Mapping):
        return
    redirected = any(
        value is not None and dest.endswith("_kubeconfig") for dest, value in vars(args).items()
    )
    if target.get("kind") == "sandbox" and not redirected:
        issue = SpecIssue(
            "$.target.kind",
            "a job with sealed secrets ($.secrets) cannot run on the sandbox target: a --sandbox "
            "run takes plain-text demo secrets, a sealed job is for a cluster",
        )
        raise SpecError(
            [issue],
            hint="Give the cluster with --kubeconfig FILE (`qengine sandbox kube --kubeconfig "
            "FILE` serves a local one), or run the job as it was before sealing with --sandbox.",
        )


def read_job(spec: str, plugins: PluginSet) -> Job:
    """Read and validate the job at ``spec`` with ``plugins``' sections and checks."""
    return plugins.loader.load(read_spec_document(spec))


def print_json(data: object) -> None:
    """Print ``data`` as indented JSON on standard output."""
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def add_plugin_options(plugins: PluginSet, parser: argparse.ArgumentParser) -> None:
    """Let each plugin add its options to ``parser``; a clash names the plugin."""
    for impl in plugins.manager.hook.qengine_add_options.get_hookimpls():
        try:
            impl.function(parser=parser)
        except argparse.ArgumentError as exc:
            raise PluginError(
                f"plugin {impl.plugin_name!r} adds a command-line option that clashes: {exc}",
                hint="Disable one of the plugins with QENGINE_DISABLE_PLUGINS.",
            ) from None


def plugin_settings(plugins: PluginSet, args: argparse.Namespace) -> dict[str, object]:
    """What the plugins make of the command line (``qengine_engine_settings``), by plugin."""
    settings: dict[str, object] = {}
    for given in plugins.manager.hook.qengine_engine_settings(options=dict(vars(args))):
        settings.update(given or {})
    return settings
