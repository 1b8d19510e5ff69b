"""Golden job specs: valid ones load, invalid ones fail with exactly the expected problems.

Each invalid spec's ``.expected.json`` lists its problems as they are shown, one line each
(``$.path: message``): every problem at once, services named by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from qengine import PluginSet, SpecError
from qengine.spec._schema import job_schema

SPECS = Path(__file__).parent / "specs"


def _specs(folder: str) -> list[Path]:
    return sorted(p for p in (SPECS / folder).glob("*.json") if ".expected." not in p.name)


VALID = _specs("valid")
INVALID = _specs("invalid")
# Cross-field problems (duplicates, cycles, references) are beyond JSON Schema: only the loader
# can see them, so the schema test leaves these out.
SEMANTIC = _specs("invalid-semantic")


def _expected(path: Path) -> list[str]:
    data = json.loads(path.with_name(path.stem + ".expected.json").read_text())
    return sorted(data["issues"])


def _validator(plugins: PluginSet) -> jsonschema.Draft202012Validator:
    schema = job_schema(plugins.registry.section_kinds())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_golden_sets_are_not_empty() -> None:
    assert len(VALID) >= 4
    assert len(INVALID) >= 8
    assert len(SEMANTIC) >= 5


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_spec_loads(path: Path, plugins: PluginSet) -> None:
    job = plugins.loader.read(path)
    assert job.id == json.loads(path.read_text())["id"]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_spec_round_trips(path: Path, plugins: PluginSet) -> None:
    job = plugins.loader.read(path)
    assert plugins.loader.load(plugins.loader.dump(job)) == job


@pytest.mark.parametrize("path", INVALID + SEMANTIC, ids=lambda p: p.stem)
def test_invalid_spec_reports_every_expected_problem(path: Path, plugins: PluginSet) -> None:
    with pytest.raises(SpecError) as caught:
        plugins.loader.read(path)
    assert sorted(str(issue) for issue in caught.value.issues) == _expected(path)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_schema_accepts_valid_spec(path: Path, plugins: PluginSet) -> None:
    _validator(plugins).validate(json.loads(path.read_text()))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_schema_rejects_invalid_spec(path: Path, plugins: PluginSet) -> None:
    errors = list(_validator(plugins).iter_errors(json.loads(path.read_text())))
    assert errors, f"the schema accepted {path.name}"
