"""Signed jobs through the command line: ``qengine sign`` by the control plane, ``qengine run
--trust-key`` by the engine; unsigned, tampered, expired and replayed jobs exit 2, audited."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from e2e.support import recorded, run_qengine, write_job


def _keys(tmp: Path) -> tuple[Path, Path]:
    result = run_qengine(tmp, "sign", "--generate-key", str(tmp / "keys"))
    assert result.returncode == 0, result.stderr
    return tmp / "keys" / "signing-key.pem", tmp / "keys" / "signing-key.pub.pem"


def _with_window(spec: Path, *, hours: float) -> None:
    document = json.loads(spec.read_text())
    now = datetime.datetime.now(datetime.UTC)
    document["created_at"] = (now - datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    not_after = now + datetime.timedelta(hours=hours)
    document["not_after"] = not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    spec.write_text(json.dumps(document))


def _audit_actions(state: Path) -> list[str]:
    lines = (state / "audit.jsonl").read_text().splitlines()
    return [json.loads(line)["action"] for line in lines]


def test_signed_job_runs_once_and_every_bad_job_is_refused(tmp_path: Path) -> None:
    private, public = _keys(tmp_path)
    state = tmp_path / "state"
    trust = ["--state-dir", str(state), "--trust-key", str(public)]
    spec = write_job(tmp_path, "a; b <- a")
    _with_window(spec, hours=1)

    unsigned = run_qengine(tmp_path, "run", str(spec), *trust)
    assert unsigned.returncode == 2
    assert "not signed" in unsigned.stderr or "unsigned" in unsigned.stderr

    signed = tmp_path / "signed.json"
    done = run_qengine(tmp_path, "sign", str(spec), "--key", str(private), "--out", str(signed))
    assert done.returncode == 0, done.stderr
    tampered = json.loads(signed.read_text())
    tampered["target"]["steps"] = "a; b <- a; c"
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    refused = run_qengine(tmp_path, "run", str(tmp_path / "tampered.json"), *trust)
    assert refused.returncode == 2
    assert recorded(tmp_path) == []  # nothing ran for any refused job

    assert run_qengine(tmp_path, "plan", str(signed), *trust).returncode == 0
    first = run_qengine(tmp_path, "run", str(signed), *trust)
    assert first.returncode == 0, first.stderr
    replay = run_qengine(tmp_path, "run", str(signed), *trust)
    assert replay.returncode == 2
    assert "already" in replay.stderr

    assert _audit_actions(state).count("job.refused") == 3
    assert "job.finished" in _audit_actions(state)


def test_expired_job_is_refused_past_the_clock_skew(tmp_path: Path) -> None:
    private, public = _keys(tmp_path)
    spec = write_job(tmp_path, "a")
    _with_window(spec, hours=-0.5)  # expired half an hour ago
    signed = tmp_path / "signed.json"
    done = run_qengine(tmp_path, "sign", str(spec), "--key", str(private), "--out", str(signed))
    assert done.returncode == 0, done.stderr
    trust = ["--state-dir", str(tmp_path / "state"), "--trust-key", str(public)]
    expired = run_qengine(tmp_path, "run", str(signed), *trust)
    assert expired.returncode == 2
    assert "expired" in expired.stderr
    lenient = run_qengine(tmp_path, "run", str(signed), *trust, "--clock-skew", "3600")
    assert lenient.returncode == 0, lenient.stderr
