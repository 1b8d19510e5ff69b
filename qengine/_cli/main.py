"""The ``qengine`` command: argument parsing, dispatch and the mapping of errors to exit codes.

Exit codes: 0 ok, 1 failed, 2 invalid input, 3 cancelled, 4 target locked.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from qengine._cli.conflicts import refuse_conflicting_options
from qengine._cli.errors import ArgumentsError, Parser, report, wants_json
from qengine._errors import CancelledError, QengineError
from qengine._plugins import PluginSet
from qengine._version import __version__

EPILOG = """exit codes:
  0  succeeded
  1  failed (changes rolled back)
  2  invalid input (bad JSON, bad spec, unknown plugin kind, refused job)
  3  cancelled
  4  target locked by another job

environment:
  QENGINE_STATE_DIR                 state directory (default ~/.local/state/qengine)
  QENGINE_DISABLE_PLUGIN_AUTOLOAD   load no plugin entry point
  QENGINE_PLUGINS                   comma-separated allow-list of plugins
  QENGINE_DISABLE_PLUGINS           comma-separated block-list of plugins
  QENGINE_TRACE_PLUGINS             trace plugin hook calls on stderr
"""

#: Each command and its module in ``qengine._cli``, in the order ``--help`` lists them. A
#: command's module is imported only when its parser is built.
COMMANDS: dict[str, str] = {
    "validate": "validate",
    "plan": "plan",
    "run": "run",
    "status": "status",
    "history": "history",
    "export": "export",
    "schema": "schema",
    "explain": "explain",
    "plugins": "plugins_cmd",
    "keys": "keys",
    "seal": "seal",
    "sign": "sign",
    "audit": "audit",
    "sandbox": "sandbox",
    "completion": "completion",
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every sub-command included (without plugins' options)."""
    return _build_parser()[0]


def _command_module(name: str) -> ModuleType:
    return importlib.import_module(f"qengine._cli.{COMMANDS[name]}")


def _build_parser(
    only: str | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser and its sub-commands' parsers: every command's, or only the one ``only``
    names (what parsing a command line for that command needs)."""
    parser = Parser(
        prog="qengine",
        description="An embeddable deployment engine: clusters on your clouds, environments "
        "onto them, from a JSON job spec.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qengine {__version__}")
    parser.add_argument(
        "--plugin",
        "-p",
        action="append",
        metavar="MODULE",
        help="also load the plugin module MODULE (repeatable)",
    )
    parser.add_argument(
        "--strict-plugins",
        action="store_true",
        help="fail when a plugin cannot be loaded (default: report and skip)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else [only]:
        _command_module(name).add_parser(subparsers)
    return parser, dict(subparsers.choices)


#: Commands whose options plugins may extend (``qengine_add_options``).
PLUGGABLE = ("run", "plan", "validate")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also used as the process's).

    With ``--output json`` every error is a JSON document on standard output too (see
    :func:`qengine._cli.errors.error_document`); a closed standard output (``| head``) ends
    the command quietly with 141, as a shell reports a death by SIGPIPE.
    """
    as_json = wants_json(sys.argv[1:] if argv is None else argv)
    try:
        return _main(argv, as_json)
    except KeyboardInterrupt:  # at any moment: loading plugins, parsing, running
        return report(CancelledError("interrupted"), as_json)
    except BrokenPipeError:
        # Python's advice: point stdout at devnull so the flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _main(argv: Sequence[str] | None, as_json: bool) -> int:
    try:
        parser, plugins = _parser_for(argv)
        args = parser.parse_args(argv)
        refuse_conflicting_options(args)
    except ArgumentsError as exc:
        return report(exc, as_json, usage=exc.usage)
    except QengineError as exc:
        return report(exc, as_json)
    if plugins is not None:
        args.loaded_plugins = plugins
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
    except QengineError as exc:
        return report(exc, as_json)
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # a bug: say so plainly, keep the traceback for who asks for it
        report(exc, as_json)
        if os.environ.get("QENGINE_DEBUG"):
            traceback.print_exc()
        return 1
    return code


def _parser_for(argv: Sequence[str] | None) -> tuple[argparse.ArgumentParser, PluginSet | None]:
    """The parser, with the options plugins add to the command about to run.

    Only ``run``, ``plan`` and ``validate`` take plugin options (``validate`` to know a job is
    sent to a cluster by ``--kubeconfig``), so only they load the plugins here (once:
    the command reuses the loaded set); ``--plugin`` modules are read first, so they may add
    options too. A command line naming a command gets a parser of that command alone: it
    parses that line as the full one does, without importing every command's module.
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugin", "-p", action="append")
    pre.add_argument("--strict-plugins", action="store_true")
    pre.add_argument("command", nargs="?")
    early, _ = pre.parse_known_args(argv)
    parser, commands = _build_parser(_sole_command(sys.argv[1:] if argv is None else argv))
    if early.command not in PLUGGABLE:
        return parser, None
    from qengine._cli.common import add_plugin_options, plugin_set

    plugins = plugin_set(early)
    add_plugin_options(plugins, commands[early.command])
    return parser, plugins


def _sole_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs when only its parser is needed to parse it: preceded by
    nothing but plugin options (``qengine -h run`` wants every command's help line)."""
    expect_value = False
    for arg in argv:
        if expect_value:
            expect_value = False
        elif arg in ("-p", "--plugin"):
            expect_value = True
        elif arg == "--strict-plugins" or arg.startswith(("--plugin=", "-p")):
            continue
        else:
            return arg if arg in COMMANDS else None
    return None


def entry() -> None:
    """Console-script entry point."""
    # A run allocates most of its objects while it starts (modules, classes, the spec's
    # models) and keeps them: the collector's default, a young collection every 700
    # allocations, walks them over and over for nothing (about a tenth of a 50-service
    # redeploy's CPU). One every 100,000 still bounds what a long run's cycles hold; the
    # older generations keep their defaults. Only for the console script: an embedding host
    # keeps its own settings.
    gc.set_threshold(100_000, *gc.get_threshold()[1:])
    code = main()
    ignore_late_signals()
    # The interpreter's shutdown collects every object still alive, and a run leaves many (the
    # modules, classes and models of the libraries it imported): 0.1-0.15 s of a 50-service
    # run. Frozen objects are skipped by those collections; exit handlers and thread joins run
    # as at any exit, what is not in a reference cycle is still released (files closed), and
    # the rest goes with the process.
    gc.freeze()
    sys.exit(code)


def ignore_late_signals() -> None:
    """Once every job has ended and its result is out, SIGINT and SIGTERM change nothing: the
    process exits with the code of what it did (a supervisor's SIGTERM that lands just after
    a job succeeded must not turn it into a death by signal). Only for the console script: an
    embedding host keeps its own handlers."""
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


if __name__ == "__main__":
    entry()
