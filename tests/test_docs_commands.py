"""Every ``qengine`` command the docs show runs as written.

The commands are taken from the README's, the plugins' READMEs' and ``docs/``'s shell blocks
(fenced blocks of ``console``, ``shell``, ``sh``, ``bash``, ``text`` or no language; a line is
a command when it starts with ``qengine``, ``$ qengine`` or ``python3 -m qengine``, possibly
after ``&&`` or environment assignments). Each is parsed by the real command line, the
first-party plugins' options included, so a renamed or removed option, command or argument
in the code fails here. Those that need nothing but the repository (validating and exporting
the examples, explaining a field, the schema, the plugins, shell completion) are also run to
completion in a child process. The tutorial's whole session, sandbox runs, seal and a
kubeconfig run included, is run by ``tests/test_cli_tutorial.py``; the cloud sandboxes' runs
by the plugins' own tests.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest
from cli_support import ROOT, qengine

from qengine._cli.conflicts import refuse_conflicting_options
from qengine._cli.errors import ArgumentsError
from qengine._cli.main import _parser_for

SHELL_FENCES = {"console", "shell", "sh", "bash", "text", ""}
OPERATORS = {"&&", "||", ";", "|", "&"}
#: Commands run to completion: they read the repository only and write under the test's cwd.
SELF_CONTAINED = {"validate", "export", "explain", "schema", "plugins", "completion"}


def _documents() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return found + sorted(ROOT.glob("plugins/*/README.md"))


def _lines(path: Path) -> list[tuple[int, str]]:
    """The shell blocks' lines of ``path`` (continuations joined), with their line numbers."""
    found: list[tuple[int, str]] = []
    in_fence = in_shell = False
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            in_fence = not in_fence
            in_shell = in_fence and line[3:].strip() in SHELL_FENCES
        elif in_shell:
            number = index + 1
            while line.endswith("\\") and index + 1 < len(lines):
                index += 1
                line = line[:-1] + " " + lines[index].strip()
            found.append((number, line.strip().removeprefix("$ ")))
        index += 1
    return found


def _commands(line: str) -> list[list[str]]:
    """The argument vectors of the ``qengine`` commands of a shell line."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:  # not shell (an output line with an odd quote)
        return []
    parts: list[list[str]] = [[]]
    redirected = False
    for token in tokens:
        if token in OPERATORS:
            parts.append([])
            redirected = False
        elif set(token) <= set("<>"):
            redirected = True  # what follows is the redirection's target
        elif not redirected:
            parts[-1].append(token)
    commands = []
    for words in parts:
        if any(word.startswith("[") for word in words):
            continue  # a synopsis (qengine [--version] COMMAND ...), not a command
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words = words[1:]
        if words[:1] == ["qengine"]:
            commands.append(words[1:])
        elif words[:3] in (["python3", "-m", "qengine"], ["python", "-m", "qengine"]):
            commands.append(words[3:])
    return commands


def _documented() -> list[tuple[str, list[str]]]:
    found = []
    for path in _documents():
        for number, line in _lines(path):
            for argv in _commands(line):
                found.append((f"{path.relative_to(ROOT)}:{number}", argv))
    return found


DOCUMENTED = _documented()


def test_the_docs_show_commands() -> None:
    """The extraction finds the commands (so the checks below are not vacuous)."""
    where = {place.split(":")[0] for place, _ in DOCUMENTED}
    assert {"README.md", "docs/tutorial.md", "docs/security.md"} <= where
    assert len(DOCUMENTED) >= 40
    assert _commands("python3 -m pip install -e . && qengine run a.json --sandbox > out") == [
        ["run", "a.json", "--sandbox"]
    ]


@pytest.mark.parametrize(("place", "argv"), DOCUMENTED, ids=[p for p, _ in DOCUMENTED])
def test_a_documented_command_parses(place: str, argv: list[str]) -> None:
    error = io.StringIO()
    try:
        with contextlib.redirect_stderr(error):
            parser, _ = _parser_for(argv)
            refuse_conflicting_options(parser.parse_args(argv))
    except ArgumentsError as exc:
        pytest.fail(f"{place}: qengine {shlex.join(argv)}: {exc}")
    except SystemExit as exc:  # --help, --version: a usage error is an ArgumentsError
        if exc.code:
            pytest.fail(f"{place}: qengine {shlex.join(argv)}: {error.getvalue()}")


def _runnable() -> list[tuple[str, list[str]]]:
    runnable = []
    for place, argv in DOCUMENTED:
        if not argv or argv[0] not in SELF_CONTAINED:
            continue
        files = [a for a in argv[1:] if a.endswith(".json")]
        if all((ROOT / f).is_file() for f in files):  # not the docs' own job.json or broken.json
            runnable.append((place, argv))
    return runnable


RUNNABLE = _runnable()


def test_some_documented_commands_are_run() -> None:
    assert {argv[0] for _, argv in RUNNABLE} >= {"validate", "export"}


@pytest.mark.parametrize(("place", "argv"), RUNNABLE, ids=[p for p, _ in RUNNABLE])
def test_a_self_contained_documented_command_succeeds(
    place: str, argv: list[str], tmp_path: Path
) -> None:
    for name in ("examples",):  # the docs' paths are relative to the repository's root
        (tmp_path / name).symlink_to(ROOT / name)
    done = qengine(tmp_path, *argv)
    assert done.returncode == 0, f"{place}: qengine {shlex.join(argv)}:\n{done.stderr}"
