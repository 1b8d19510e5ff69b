"""The embedding API: an Engine in the host's process, several jobs at once, trust, secrets."""

from __future__ import annotations

import datetime
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import qengine.testing.plugin
from qengine import Event, InvalidInputError, JobRefusedError, load_plugins
from qengine._engine import Engine, Trust
from qengine.audit.sink import JsonlAuditSink
from qengine.runner import MemoryStateStore, SqliteStateStore
from qengine.secrets.signing import key_id_of, sign_job


def _plugins() -> Any:
    return load_plugins(autoload=False, plugins=[("test", qengine.testing.plugin)])


def _job(job_id: str, steps: str = "a; b <- a", env: str = "env", **target: Any) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC)
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": job_id,
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": {"kind": "test", "steps": steps, **target},
        "environment": {"id": env, "name": env},
    }


def test_jobs_on_threads_see_only_their_own_events_and_secrets() -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    seen: dict[str, list[Event]] = {f"job-{i}": [] for i in range(6)}
    failures: list[BaseException] = []

    def one(job_id: str) -> None:
        try:
            document = _job(
                job_id, "a; b:sleep=0.05 <- a", env=f"env-{job_id}", leak=[{"secret": "token"}]
            )
            result = engine.run(
                document,
                on_event=seen[job_id].append,
                sandbox_secrets={"token": f"token-of-{job_id}"},
            )
            assert result.status.value == "failed"  # the leak step fails on purpose
        except BaseException as exc:  # collected and re-raised on the main thread
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(job_id,)) for job_id in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    for job_id, events in seen.items():
        assert events
        assert {event.job_id for event in events} == {job_id}
        text = json.dumps([event.to_json_object() for event in events])
        assert "token-of-" not in text


def test_references_without_sealed_secrets_are_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    document = _job("job-x", "a", record=str(tmp_path / "log"), leak=[{"secret": "pw"}])
    with pytest.raises(InvalidInputError, match="carries no sealed secrets"):
        engine.run(document)
    assert not (tmp_path / "log").exists()


def _trusted_engine(tmp_path: Path) -> tuple[Engine, Ed25519PrivateKey, Path]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    audit_path = tmp_path / "audit.jsonl"
    engine = Engine(
        _plugins(),
        store=SqliteStateStore(tmp_path / "state"),
        trust=Trust(keys={key_id_of(public): public}),
        audit=JsonlAuditSink(audit_path),
    )
    return engine, private, audit_path


def _audit_actions(path: Path) -> list[str]:
    return [json.loads(line)["action"] for line in path.read_text().splitlines()]


def test_unsigned_and_tampered_jobs_are_refused_and_audited(tmp_path: Path) -> None:
    engine, private, audit_path = _trusted_engine(tmp_path)
    with pytest.raises(JobRefusedError):
        engine.run(_job("job-unsigned", record=str(tmp_path / "log")))
    signed = sign_job(_job("job-tampered", record=str(tmp_path / "log")), private)
    signed["target"]["steps"] = "a; b; evil"
    with pytest.raises(JobRefusedError, match="altered"):
        engine.run(signed)
    assert not (tmp_path / "log").exists()
    assert _audit_actions(audit_path) == ["job.refused", "job.refused"]


def test_signed_job_runs_once_and_a_replay_is_refused(tmp_path: Path) -> None:
    engine, private, audit_path = _trusted_engine(tmp_path)
    signed = sign_job(_job("job-signed"), private)
    plan = engine.plan(engine.accept(signed, consume=False))  # planning does not burn the id
    assert [step.id for step in plan.steps] == ["a", "b"]
    assert engine.run(signed).status.value == "succeeded"
    with pytest.raises(JobRefusedError, match="already"):
        engine.run(signed)
    assert _audit_actions(audit_path)[-1] == "job.refused"
