"""``qengine export`` of every cloud's cluster is inert, for every string field of its spec.

The class of problem: a spec value that reaches an exported Terraform file in its JSON syntax
is a template there (``${...}`` interpolates, ``%{...}`` is a directive), and one that reaches
a README command is a shell word. For each cloud (the AWS, GCP and Azure examples) and each
string the provider section's JSON Schema allows (map keys and values, list items, optional
fields included; the ``{"secret": ...}`` names excepted), the field is set to a value holding
both sequences and the job is exported. Either validation refuses it (exit 2, nothing written,
the field named), or every string of every JSON file written holds no live sequence (a
literal ``$${`` / ``%%{`` is Terraform's escape) and no README command holds the value.
``plugins/aws/tests/test_aws_export_inert.py`` shows with the real ``terraform`` that an
unescaped sequence is run; ``plugins/kubernetes/tests/test_k8s_export_inert.py`` covers the
environment chart with the real ``helm template``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qengine import load_plugins
from qengine.cli import main
from qengine.spec._schema import job_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {"AwsProvider": "aws-eks", "GcpProvider": "gke", "AzureProvider": "aks"}
HOSTILE = '${file("/etc/hostname")}%{if true}x%{endif}'
# Live in Terraform's JSON syntax: the hostile value's "${" or "%{" with its sign not doubled
# ("$${" is a literal "${", and so is the end of "$$${"; "$%{" is a live directive), as
# terraform reads it. The module's own references ("${var.region}") are not the spec's.
LIVE = re.compile(r"(?<!\$)\$\{file\(|(?<!%)%\{if true\}")
FIRST_PARTY = "aws,azure,gcp,kubernetes"

Path_ = tuple[str | int, ...]
#: Valid starting points for optional objects the examples do not have, so that a refusal is
#: of the hostile field, not of the object's other required fields.
BASES: dict[str, dict[str, Any]] = {
    "workload_identity": {
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/"
        "pool/providers/provider",
        "subject_token": {"secret": "federated-token"},
    },
}


def _strings(
    schema: dict[str, Any], defs: dict[str, Any], path: Path_ = (), seen: tuple[str, ...] = ()
) -> Iterator[Path_]:
    """The paths of the strings ``schema`` allows ("<key>" for a map's keys)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _strings(defs[name], defs, path, (*seen, name))
        return
    for combined in ("anyOf", "oneOf"):
        for option in schema.get(combined, []):
            yield from _strings(option, defs, path, seen)
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "string" in kinds:
        yield path
    for name, sub in schema.get("properties", {}).items():
        if name == "secret":
            continue  # a secret's name, not its value: held to its own pattern
        yield from _strings(sub, defs, (*path, name), seen)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield (*path, "<key>")
        yield from _strings(extra, defs, (*path, "<value>"), seen)
    if "array" in kinds:
        yield from _strings(schema.get("items", {}), defs, (*path, 0), seen)


def _cases() -> list[tuple[str, Path_]]:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": FIRST_PARTY})
    schema = job_schema(plugins.registry.section_kinds())
    defs = schema["$defs"]
    cases = []
    for definition, example in EXAMPLES.items():
        for path in dict.fromkeys(_strings(defs[definition], defs)):
            if path[-1:] != ("kind",):
                cases.append((example, path))
    return cases


CASES = _cases()


def _with_hostile(document: dict[str, Any], path: Path_) -> None:
    """Put the hostile value at ``path`` under ``cluster.provider``, making what is missing."""
    node: Any = document["cluster"]["provider"]
    for step, following in zip(path, [*path[1:], None], strict=True):
        if step == "<key>":
            node[HOSTILE] = "v"
            return
        if step == "<value>":
            node["k"] = HOSTILE
            return
        if following is None:
            if isinstance(step, int) and not node:
                node.append(HOSTILE)
            else:
                node[step] = HOSTILE
            return
        if isinstance(step, int):
            if not node:
                node.append({} if isinstance(following, str) else [])
            node = node[0]
            continue
        if step not in node or not isinstance(node[step], dict | list):
            base = copy.deepcopy(BASES.get(str(step), {}))
            node[step] = [] if isinstance(following, int) else base
        node = node[step]


def _live_strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _live_strings(key)
            yield from _live_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _live_strings(item)
    elif isinstance(value, str) and LIVE.search(value):
        yield value


def test_the_cases_cover_every_cloud_and_optional_fields() -> None:
    examples = {example for example, _ in CASES}
    assert examples == set(EXAMPLES.values())
    assert ("gke", ("state", "kms_key")) in CASES  # optional, absent from the example
    assert ("aks", ("tags", "<key>")) in CASES
    assert len(CASES) >= 40


def test_the_detector_sees_live_and_escaped_sequences() -> None:
    assert list(_live_strings({"a": [HOSTILE]})) == [HOSTILE]
    assert list(_live_strings({"%{if true}": 1})) == ["%{if true}"]
    assert list(_live_strings(["$${file(", "%%{if true}", "$$${file(", "${var.region}"])) == []
    assert list(_live_strings(["$%{if true}"])) == ["$%{if true}"]


@pytest.mark.parametrize(
    ("example", "path"), CASES, ids=[f"{e}:{'.'.join(map(str, p))}" for e, p in CASES]
)
def test_a_hostile_spec_value_is_refused_or_exported_inert(
    example: str,
    path: Path_,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = copy.deepcopy(json.loads((ROOT / "examples" / example / "job.json").read_text()))
    _with_hostile(document, path)
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(document))
    out = tmp_path / "out"
    monkeypatch.setenv("QENGINE_PLUGINS", FIRST_PARTY)
    code = main(["export", str(spec), "--out-dir", str(out)])
    err = capsys.readouterr().err
    if code == 2:
        named = [p for p in path if isinstance(p, str) and not p.startswith("<")]
        assert "$.cluster.provider" in err
        assert named[-1] in err, err
        assert not out.exists() or not any(out.rglob("*.tf.json"))
        return
    assert code == 0, err
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written
    live = {
        str(file.relative_to(out)): found
        for file in written
        if file.suffix == ".json" and file.name != "job.json"  # the spec itself, as data
        if (found := list(_live_strings(json.loads(file.read_text()))))
    }
    assert live == {}
    for file in written:
        if file.suffix == ".md":
            commands = [span for span in re.findall(r"`([^`]+)`", file.read_text()) if " " in span]
            assert not [c for c in commands if "{" in c and "file(" in c], commands
