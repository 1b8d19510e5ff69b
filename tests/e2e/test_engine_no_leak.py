"""The whole-engine leak test: secrets in env vars, a registry password, a git token and a
Helm value; a step that fails by printing them. Every byte the engine leaves is searched for
every secret in every encoding the redactor knows, and nothing is found."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from e2e.support import run_qengine

from qengine.secrets._encodings import encoded_forms

SECRETS = {
    "env_password": "s3cr3t-env-Ω-value/with+chars",
    "registry_password": "reg-pass-9f8e7d6c5b4a",
    "git_token": "ghp_0123456789abcdefABCDEF0123456789",
    "helm_value": 'helm "quoted" & <value>',
}


def _job(tmp: Path) -> Path:
    refs = {name: {"secret": name} for name in SECRETS}
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "leaky-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": "prepare", "leak": [refs[name] for name in SECRETS]},
        "environment": {
            "id": "env-leak",
            "name": "leak",
            "services": [
                {
                    "kind": "container",
                    "name": "web",
                    "image": "registry.example.com/web",
                    "tag": "1",
                    "env": {"PASSWORD": refs["env_password"]},
                    "registry_auth": {"username": "robot", "password": refs["registry_password"]},
                },
                {
                    "kind": "application",
                    "name": "api",
                    "git": {
                        "url": "https://git.example.com/api.git",
                        "commit": "a" * 40,
                        "token": refs["git_token"],
                    },
                },
                {
                    "kind": "helm",
                    "name": "chart",
                    "chart": {"name": "c", "path": "charts/c"},
                    "values": {"auth": {"password": refs["helm_value"]}},
                },
            ],
        },
    }
    path = tmp / "job.json"
    path.write_text(json.dumps(document))
    return path


def _forms() -> dict[str, set[bytes]]:
    return {
        name: {form.encode() for form in encoded_forms(value)} for name, value in SECRETS.items()
    }


def _search(blobs: dict[str, bytes]) -> list[str]:
    found = []
    for where, blob in blobs.items():
        for name, forms in _forms().items():
            found += [f"{name} in {where}" for form in forms if form in blob]
    return found


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("mode", ["sandbox", "sealed"])
def test_no_secret_reaches_any_output(tmp_path: Path, mode: str) -> None:
    spec = _job(tmp_path)
    state = tmp_path / "state"
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps(SECRETS))
    os.chmod(secrets_file, 0o600)
    events = tmp_path / "out" / "events.jsonl"
    events.parent.mkdir()
    outputs: dict[str, bytes] = {}
    if mode == "sandbox":
        run_args = [str(spec), "--sandbox", "--secrets", str(secrets_file)]
    else:
        created = run_qengine(tmp_path, "keys", "create", "--state-dir", str(state))
        assert created.returncode == 0, created.stderr
        sealed = tmp_path / "out" / "sealed.json"
        done = run_qengine(
            tmp_path,
            "seal",
            str(spec),
            "--secrets",
            str(secrets_file),
            "--out",
            str(sealed),
            "--state-dir",
            str(state),
        )
        assert done.returncode == 0, done.stderr
        outputs.update({"seal stdout": done.stdout.encode(), "seal stderr": done.stderr.encode()})
        run_args = [str(sealed)]
    result = run_qengine(
        tmp_path,
        "run",
        *run_args,
        "--state-dir",
        str(state),
        "--events",
        str(events),
        "--output",
        "json",
    )
    assert result.returncode == 1, result.stderr
    assert "***" in result.stderr  # the failing step's message was there, masked
    exported = run_qengine(
        tmp_path, "export", str(spec), "--out-dir", str(tmp_path / "out" / "export")
    )
    assert exported.returncode == 0, exported.stderr
    outputs.update(
        {
            "stdout": result.stdout.encode(),
            "stderr": result.stderr.encode(),
            "export stdout": exported.stdout.encode(),
        }
    )
    outputs.update(_tree(state))
    outputs.update(_tree(tmp_path / "out"))
    assert any("audit" in name for name in outputs)
    assert _search(outputs) == []


def test_the_search_would_find_a_leak(tmp_path: Path) -> None:
    """The search itself can fail: a plain and a base64 secret are both found."""
    import base64

    value = SECRETS["git_token"]
    blobs = {"a": f"token={value}".encode(), "b": base64.b64encode(value.encode())}
    assert _search(blobs) == ["git_token in a", "git_token in b"]
