"""Bad input through the real ``qengine`` command: exit 2, the path named, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart" / "job.json"


def qengine(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command line in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "qengine", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _quickstart_with(**changes: object) -> str:
    document = json.loads(QUICKSTART.read_text())
    document["environment"]["services"][2].update(changes)
    return json.dumps(document)


CASES = {
    "not-json": ("{not json", "is not valid JSON"),
    "array": ("[1, 2]", "$: must be a JSON object"),
    "empty-object": ("{}", "$.kind"),
    "wrong-types": (json.dumps({**json.loads(QUICKSTART.read_text()), "id": 7}), "$.id"),
    "dot-dot-name": (_quickstart_with(name="../../etc"), "$.environment.services[2].name"),
    "underscore-name": (_quickstart_with(name="Web_App"), "$.environment.services[Web_App].name"),
    "deep-nesting": ("[" * 10_000 + "]" * 10_000, "nests deeper than"),
    "deep-object": ('{"a":' * 200 + "1" + "}" * 200, "nests deeper than"),
    "duplicate-key": ('{"kind": "EnvironmentJob", "kind": "InfrastructureJob"}', "duplicate key"),
    "nan": ('{"id": NaN}', "NaN is not allowed"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_naming_the_problem(case: str, tmp_path: Path) -> None:
    content, expected = CASES[case]
    spec = tmp_path / "job.json"
    spec.write_text(content)
    result = qengine("validate", str(spec))
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    spec = tmp_path / "big.json"
    with spec.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB of nothing, cheap to make
    result = qengine("validate", str(spec))
    assert result.returncode == 2
    assert "larger than the limit" in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = qengine("validate", str(tmp_path / "absent.json"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_valid_spec_from_stdin() -> None:
    result = qengine("validate", "-", stdin=QUICKSTART.read_bytes())
    assert result.returncode == 0, result.stderr
    assert "valid EnvironmentJob" in result.stdout


def test_json_output_lists_every_error(tmp_path: Path) -> None:
    spec = tmp_path / "job.json"
    spec.write_text(_quickstart_with(name="Web_App", replicas="2"))
    result = qengine("validate", "--output", "json", str(spec))
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert (document["ok"], document["error"]["kind"]) == (False, "invalid_spec")
    errors = document["error"]["issues"]
    assert {e["path"] for e in errors} == {
        "$.environment.services[Web_App].name",
        "$.environment.services[Web_App].replicas",
        "$.environment.services[public].routes[0].service",  # the router's target renamed
    }


def test_version_and_help() -> None:
    version = qengine("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("qengine ")
    usage = qengine("--help")
    assert "exit codes" in usage.stdout
    assert "4  target locked" in usage.stdout


def test_schema_is_json_with_plugin_sections() -> None:
    result = qengine("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"AwsProvider", "KubeconfigTarget", "SandboxTarget"} <= set(schema["$defs"])


def test_plugins_lists_first_party_plugins() -> None:
    result = qengine("plugins", "--output", "json")
    assert result.returncode == 0
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    assert listed["aws"]["distribution"] == "qengine-aws"
    assert "cloud provider: aws" in listed["aws"]["provides"]
    assert "cluster target: sandbox" in listed["kubernetes"]["provides"]
