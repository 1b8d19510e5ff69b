"""Every development task, one command each: ``nox`` runs the default set, as CI does."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["lint", "mypy", "tests", "plugin_tests", "contrib", "scale_out", "docs"]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
EDITABLE = [
    "-e",
    ".[test]",
    *(arg for name in PLUGINS for arg in ("-e", f"plugins/{name}[test]")),
]


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff: lint rules and formatting."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def mypy(session: nox.Session) -> None:
    """mypy --strict over the core, the plugins, the plugin template and this file."""
    session.install(
        "mypy",
        "nox",
        "types-jsonschema",
        "types-PyYAML",
        *EDITABLE,
        "-e",
        "contrib/plugin-template",
        "-e",
        "contrib/qengine-celery[test]",
    )
    session.run(
        "mypy",
        "qengine",
        *(f"plugins/{n}/qengine_{n}" for n in PLUGINS),
        "contrib/plugin-template/qengine_directory",
        "contrib/qengine-celery/qengine_celery",
        "noxfile.py",
    )


@nox.session
def tests(session: nox.Session) -> None:
    """The core test suite (unit, component and end-to-end)."""
    session.install(*EDITABLE)
    session.run("pytest", "tests", *session.posargs)


@nox.session
@nox.parametrize("plugin", PLUGINS)
def plugin_tests(session: nox.Session, plugin: str) -> None:
    """One first-party plugin's own tests."""
    session.install(*EDITABLE)
    session.run(
        "pytest",
        f"plugins/{plugin}/tests",
        "-c",
        "pyproject.toml",
        "--rootdir",
        ".",
        *session.posargs,
    )


@nox.session
def contrib(session: nox.Session) -> None:
    """The plugin template, installed as a third party would install it, passes the contract."""
    session.install(*EDITABLE, "-e", "contrib/plugin-template")
    session.run(
        "pytest",
        "contrib/plugin-template/tests",
        "-c",
        "pyproject.toml",
        "--rootdir",
        ".",
        *session.posargs,
    )


@nox.session
def scale_out(session: nox.Session) -> None:
    """qengine-celery: real workers, redis-server and PostgreSQL (Debian packages, installed
    by .ci/install-build-tools.sh) run jobs on the Kubernetes simulator."""
    session.install(*EDITABLE, "-e", "contrib/qengine-celery[test]")
    session.run(
        "pytest",
        "contrib/qengine-celery/tests",
        "-c",
        "pyproject.toml",
        "--rootdir",
        ".",
        *session.posargs,
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site, warnings as errors."""
    session.install("mkdocs", "mkdocstrings[python]", *EDITABLE)
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"))


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Run every benchmark and print its figures (not part of the default run)."""
    session.install(*EDITABLE)
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
