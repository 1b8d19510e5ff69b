"""Plans and exports of Kubernetes environments never hold a secret value, in any encoding."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qengine import PluginSet
from qengine.cli import main
from qengine.secrets.redaction import Redactor
from qengine.spec import secret_references

Example = Callable[[str], dict[str, Any]]


def _secrets(plugins: PluginSet, doc: dict[str, Any]) -> dict[str, str]:
    names = {name for _, name in secret_references(plugins.loader.load(doc))}
    # Distinctive values, one with characters every encoding treats differently.
    return {name: f'S3cr3t/{name}+"quoted" value=ok&{len(name)}' for name in sorted(names)}


def _assert_clean(text: str, secrets: dict[str, str], where: str) -> None:
    # The redactor masks every encoded form of a value it knows: a text it changes holds one.
    for name, value in secrets.items():
        assert Redactor([value]).redact(text) == text, f"{where} holds secret {name}"


@pytest.mark.parametrize("name", ["quickstart", "all-kinds"])
def test_k8s_plan_and_export_hold_no_secret_value(
    name: str,
    k8s_plugins: PluginSet,
    example: Example,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = example(name)
    secrets = _secrets(k8s_plugins, doc)
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(doc))
    secrets_file = tmp_path / "demo-secrets.json"
    secrets_file.write_text(json.dumps(secrets))
    state = ["--state-dir", str(tmp_path / "state")]
    sandbox = ["--sandbox", "--secrets", str(secrets_file)]
    for output in ("text", "json"):
        assert main(["plan", str(spec), *sandbox, *state, "-o", output]) == 0
        captured = capsys.readouterr()
        assert "kubernetes/service/" in captured.out
        _assert_clean(captured.out + captured.err, secrets, f"plan -o {output}")

    out = tmp_path / "export"
    assert main(["export", str(spec), "--out-dir", str(out)]) == 0
    captured = capsys.readouterr()
    _assert_clean(captured.out + captured.err, secrets, "export output")
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.parent.name == "templates" for p in files)
    for path in files:
        _assert_clean(path.read_text(), secrets, str(path.relative_to(out)))


def test_k8s_the_search_finds_an_encoded_value() -> None:
    import base64

    value = 'S3cr3t/x+"quoted" value=ok&1'
    encoded = base64.b64encode(value.encode()).decode()
    with pytest.raises(AssertionError, match="holds secret x"):
        _assert_clean(f"data: {encoded}\n", {"x": value}, "a manifest")
