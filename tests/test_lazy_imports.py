"""``qengine validate`` imports only what validation needs, whatever plugins are installed.

Validation reads a file, structures it with cattrs, runs the core's and the plugins' checks and
prints a line: it opens no secret, runs no step, program or retry, and calls no API. So neither
validating nor loading the plugins (their registration hooks) may import:

- the runner, the engine, the journal's retries and leases, the audit log (``qengine.runner``,
  ``qengine._engine``, ``qengine.retry``, ``qengine.objectlease``, ``qengine.audit``,
  ``tenacity``, ``sqlite3``, ``psycopg``, ``concurrent.futures``, ``asyncio``): they run jobs;
- the secrets core and its cryptography (``qengine.secrets``, ``cryptography``, ``bcrypt``):
  secret references are checked as text, nothing is sealed or opened;
- what fetches, builds or provisions (``qengine.source.git``, ``qengine.terraform``);
- what talks to an API or reads a kubeconfig (``certifi``, ``ssl``, ``http.client``,
  ``urllib.request``, ``urllib3``, ``requests``, ``httpx``, ``yaml``, ``werkzeug``) and every
  cloud SDK (``boto3``, ``botocore``, ``s3transfer``, ``moto``, ``google``, ``azure``,
  ``kubernetes``);
- the live console (``rich``): ``validate`` prints one line or a list of problems;
- ``importlib.metadata`` and the ``email`` package it imports: plugins are found by reading
  each distribution's ``entry_points.txt``; a plugin's distribution and version are read only
  for ``qengine plugins``.

A module the bare interpreter already holds at start-up (a site customisation may import
``certifi``, say) is not validation's doing and is left out of the comparison.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qengine._cli.main import COMMANDS, _parser_for

ROOT = Path(__file__).resolve().parent.parent
DENIED = (
    "asyncio",
    "azure",
    "bcrypt",
    "boto3",
    "botocore",
    "certifi",
    "concurrent.futures",
    "cryptography",
    "email",
    "google",
    "http.client",
    "httpx",
    "importlib.metadata",
    "kubernetes",
    "moto",
    "psycopg",
    "qengine._engine",
    "qengine.audit",
    "qengine.objectlease",
    "qengine.retry",
    "qengine.runner",
    "qengine.secrets",
    "qengine.source.git",
    "qengine.terraform",
    "requests",
    "rich",
    "s3transfer",
    "sqlite3",
    "ssl",
    "tenacity",
    "urllib.request",
    "urllib3",
    "werkzeug",
    "yaml",
)
FIRST_PARTY = ("addons", "aws", "azure", "buildah", "docker", "gcp", "kubernetes", "oci")

# Runs ``python -m qengine validate SPEC`` as a user does, then reports its exit code and the
# modules it imported beyond those of a bare interpreter.
_VALIDATE = """
import json, runpy, sys
start = set(sys.modules)
sys.argv = ["qengine", "validate", sys.argv[1]]
try:
    runpy.run_module("qengine", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as exc:
    code = exc.code
print(json.dumps([code, sorted(set(sys.modules) - start)]))
"""

_REGISTER = """
import json, sys
start = set(sys.modules)
import qengine
plugins = qengine.load_plugins(strict=True, environ={"QENGINE_PLUGINS": sys.argv[1]})
print(json.dumps([[p.name for p in plugins.plugins], sorted(set(sys.modules) - start)]))
"""


def _denied(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == d or m.startswith(d + ".") for d in DENIED)]


def _job_examples() -> list[Path]:
    paths = sorted(ROOT.glob("examples/*/*.json"))
    return [p for p in paths if json.loads(p.read_text()).get("apiVersion") == "qengine.dev/v1"]


def _last_line(argv: list[str]) -> list[object]:
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    result: list[object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("spec", _job_examples(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_validate_imports_nothing_validation_does_not_need(spec: Path) -> None:
    code, imported = _last_line([sys.executable, "-c", _VALIDATE, str(spec)])
    assert code == 0
    assert isinstance(imported, list)
    assert _denied(imported) == []
    assert {"qengine_aws.plugin", "qengine_kubernetes.plugin"} <= set(imported)


@pytest.mark.parametrize(
    ("example", "unused"),
    [
        ("quickstart", ("qengine_aws.spec", "qengine_azure.spec", "qengine_gcp.spec")),
        ("aws-eks", ("qengine_azure.spec", "qengine_gcp.spec", "qengine_kubernetes.render")),
    ],
)
def test_validate_builds_only_the_sections_and_checks_the_job_uses(
    example: str, unused: tuple[str, ...]
) -> None:
    """Plugins register their section classes by import path and import their checks for a
    job with one of their kinds only: a job pays for the plugins it uses."""
    spec = ROOT / "examples" / example / "job.json"
    code, imported = _last_line([sys.executable, "-c", _VALIDATE, str(spec)])
    assert code == 0
    assert isinstance(imported, list)
    assert [m for m in unused if m in imported] == []


def test_loading_every_first_party_plugin_imports_nothing_it_does_not_need() -> None:
    names, imported = _last_line([sys.executable, "-c", _REGISTER, ",".join(FIRST_PARTY)])
    assert names == list(FIRST_PARTY)
    assert isinstance(imported, list)
    assert _denied(imported) == []
    # Registration names the interfaces' implementations by factory: none is imported.
    assert [m for m in imported if m.startswith("qengine.interfaces")] == []


def test_the_deny_list_catches_a_denied_import() -> None:
    """The comparison sees a denied module that a run does import (it is not vacuous)."""
    probe = _VALIDATE.replace("start = set(sys.modules)", "start = set(sys.modules)\nimport yaml")
    code, imported = _last_line(
        [sys.executable, "-c", probe, str(ROOT / "examples" / "quickstart" / "job.json")]
    )
    assert code == 0
    assert isinstance(imported, list)
    assert "yaml" in _denied(imported)


def test_a_command_imports_its_own_module_of_the_command_line_only() -> None:
    spec = ROOT / "examples" / "quickstart" / "job.json"
    code, imported = _last_line([sys.executable, "-c", _VALIDATE, str(spec)])
    assert code == 0
    assert isinstance(imported, list)
    others = {f"qengine._cli.{module}" for module in COMMANDS.values()} - {"qengine._cli.validate"}
    assert sorted(others & set(imported)) == []


@pytest.mark.parametrize(
    "argv", [["-h", "validate"], ["--strict-plugins", "--help", "run"], ["-h"]]
)
def test_the_top_level_help_lists_every_command_whatever_follows_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _parser_for(argv)[0].parse_args(argv)
    listed = capsys.readouterr().out
    assert [name for name in COMMANDS if f"\n    {name} " not in listed] == []
