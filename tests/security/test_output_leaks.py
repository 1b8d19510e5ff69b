"""The leak hunt over step outputs: stdout, ``--output json``, events, journal, audit log.

A real ``qengine run`` process runs a job whose first step returns outputs full of opened
secrets (in values and keys, raw and encoded) and whose second step logs what it received.
Every byte the run leaves is searched for every form of every secret; the outputs reach the
result masked, and the dependent step receives them masked as well.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from qengine.secrets._encodings import encoded_forms

PLUGINS = Path(__file__).parent / "plugins"
SECRETS = {
    "db-password": "pg-Ω-s3cr3t/with+chars&<more>",
    "api-token": "tok_7d1e0c9b8a7f6e5d4c3b2a19",
    "passphrase": "correct horse battery staple orbit lantern velvet",
}


def _qengine(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp / "home"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(PLUGINS),
    }
    argv = [sys.executable, "-m", "qengine", "-p", "leaky_outputs", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def _job(tmp: Path) -> Path:
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "outputs-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "leaky-outputs", "leak": [{"secret": n} for n in SECRETS]},
        "environment": {"id": "env-1", "name": "env-1"},
    }
    path = tmp / "job.json"
    path.write_text(json.dumps(document))
    return path


def _flat(data: bytes) -> bytes:
    """``data`` without white space, JSON-escaped line breaks and YAML continuations, so a
    value wrapped or folded over lines is found as if on one line."""
    for piece in (b"\\n", b"\\", b"\n", b"\r", b" ", b"\t"):
        data = data.replace(piece, b"")
    return data


def _search(blobs: dict[str, bytes]) -> list[str]:
    found = []
    for where, blob in blobs.items():
        flat = _flat(blob)
        for name, value in SECRETS.items():
            forms = {form.encode() for form in encoded_forms(value)}
            found += [f"{name} in {where}" for form in forms if form in blob]
            # Wrapped or folded: long forms, compared without white space on both sides.
            flats = {_flat(form) for form in forms if len(_flat(form)) >= 16}
            found += [f"{name} (wrapped) in {where}" for form in flats if form in flat]
    return sorted(set(found))


def test_outputs_are_masked_on_every_channel(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    out.mkdir()
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps(SECRETS))
    os.chmod(secrets_file, 0o600)
    assert _qengine(tmp_path, "keys", "create", "--state-dir", str(state)).returncode == 0
    sealed = out / "sealed.json"
    seal = _qengine(
        tmp_path,
        "seal",
        str(_job(tmp_path)),
        "--secrets",
        str(secrets_file),
        "--out",
        str(sealed),
        "--state-dir",
        str(state),
    )
    assert seal.returncode == 0, seal.stderr
    events = out / "events.jsonl"
    run = _qengine(
        tmp_path,
        "run",
        str(sealed),
        "--state-dir",
        str(state),
        "--events",
        str(events),
        "--output",
        "json",
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    reported = result["outputs"]["report"]
    assert "***" in reported["db-password.plain"]
    assert reported["db-password.dsn"] == "postgres://app:***@db:5432/app"
    assert any(key.startswith("key-0-") for key in reported)
    assert result["outputs"]["consume"] == {"seen": str(len(reported))}
    assert "received" in events.read_text()  # the dependent step logged what it got
    blobs = {
        p.name: p.read_bytes() for root in (state, out) for p in root.rglob("*") if p.is_file()
    }
    blobs |= {"stdout": run.stdout.encode(), "stderr": run.stderr.encode()}
    assert any("audit" in name for name in blobs)
    assert "events.jsonl" in blobs
    assert _search(blobs) == []


def test_the_search_finds_an_output_leak() -> None:
    value = SECRETS["db-password"]
    blob = json.dumps({"outputs": {"dsn": f"postgres://app:{value}@db"}}).encode()
    assert "db-password in stdout" in _search({"stdout": blob})
    wrapped = base64.encodebytes(b"x" * 41 + SECRETS["api-token"].encode())
    assert _search({"log": json.dumps(wrapped.decode()).encode()}) == ["api-token (wrapped) in log"]
