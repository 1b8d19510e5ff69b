"""How the command line reports an error: ``error:`` and ``hint:`` lines on standard error,
and with ``--output json`` one JSON document on standard output, the same for every command.

The document::

    {"ok": false,
     "error": {"code": 2, "kind": "invalid_spec", "message": "...", "hint": "...",
               "issues": [{"path": "$.environment.services[0].name", "message": "..."}]}}

``code`` is the exit code; ``kind`` one of :data:`KINDS`; ``issues`` is present (maybe empty)
for every error and lists each ``$.path`` problem of an invalid spec.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from qengine._errors import (
    BuildError,
    CancelledError,
    DeploymentError,
    InfrastructureError,
    InvalidInputError,
    JobRefusedError,
    PluginError,
    QengineError,
    SecretError,
    SpecError,
    TargetLockedError,
)
from qengine._terminal import terminal_safe

#: The ``kind`` of an error document, by class (the first that matches).
KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (SpecError, "invalid_spec"),
    (JobRefusedError, "job_refused"),
    (InvalidInputError, "invalid_input"),
    (PluginError, "plugin"),
    (SecretError, "secret"),
    (InfrastructureError, "infrastructure"),
    (BuildError, "build"),
    (DeploymentError, "deployment"),
    (TargetLockedError, "target_locked"),
    (CancelledError, "cancelled"),
    (QengineError, "failed"),
)


class ArgumentsError(InvalidInputError):
    """The command line itself is wrong (argparse's own errors); ``usage`` is the command's."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message, hint="`qengine COMMAND --help` lists each command's options.")
        self.usage = usage


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are raised (and then reported like any other error)."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentsError(message, self.format_usage())


def wants_json(argv: Sequence[str]) -> bool:
    """Whether ``argv`` asks for ``--output json`` (read before parsing, which may fail)."""
    for i, arg in enumerate(argv):
        if arg in ("--output", "-o") and i + 1 < len(argv) and argv[i + 1] == "json":
            return True
        if arg in ("--output=json", "-ojson", "-o=json"):
            return True
    return False


def error_document(exc: BaseException) -> dict[str, object]:
    """The JSON form of ``exc`` (see the module's docstring)."""
    if isinstance(exc, QengineError):
        code, message, hint = exc.exit_code, exc.message, exc.hint
    else:
        code, message = 1, f"internal error ({type(exc).__name__}): {exc}"
        hint = "this is a bug in qengine or a plugin; set QENGINE_DEBUG=1 for details"
    kind = next((name for cls, name in KINDS if isinstance(exc, cls)), "internal")
    issues = getattr(exc, "issues", None) if isinstance(exc, SpecError) else None
    error: dict[str, object] = {"code": code, "kind": kind, "message": message, "hint": hint}
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str):
        error["reason"] = reason
    error["issues"] = [{"path": i.path, "message": i.message} for i in issues or ()]
    return {"ok": False, "error": error}


def report(exc: BaseException, as_json: bool, *, usage: str = "") -> int:
    """Report ``exc`` on standard error (and as JSON on standard output); the exit code."""
    document = error_document(exc)
    error = document["error"]
    assert isinstance(error, dict)
    if usage:
        sys.stderr.write(usage)
    print(f"error: {terminal_safe(str(error['message']))}", file=sys.stderr)
    if error["hint"]:
        print(f"hint: {terminal_safe(str(error['hint']))}", file=sys.stderr)
    if as_json:
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    code = error["code"]
    assert isinstance(code, int)
    return code
