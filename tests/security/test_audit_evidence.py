"""The audit sink never erases evidence: a log shorter than, or diverging from, its checkpoint
is never appended to (exit code 2), whether the sink is used directly or by ``qengine run``."""

from __future__ import annotations

import json
import pathlib

import pytest
from e2e.support import recorded, run_qengine, write_job

from qengine.audit import JsonlAuditSink
from qengine.audit.sink import AuditLogDivergedError
from qengine.interfaces.audit import AuditRecord

KEY = b"k" * 32


def _record(n: int) -> AuditRecord:
    return AuditRecord(
        time="2026-12-01T00:00:00Z", job_id=f"job-{n}", actor_id="actor-1", action="job.accepted"
    )


def _log(tmp_path: pathlib.Path, count: int = 3) -> pathlib.Path:
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path, hmac_key=KEY)
    for n in range(count):
        sink.append(_record(n))
    sink.close()
    return path


def _truncate(path: pathlib.Path, keep: int) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:keep]))


def _rewrite_last(path: pathlib.Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[-1])
    record["outcome"] = "forged"
    lines[-1] = json.dumps(record, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    path.write_bytes(b"".join(lines))


def _forge_checkpoint(path: pathlib.Path) -> None:
    checkpoint = path.with_name(path.name + ".checkpoint")
    data = json.loads(checkpoint.read_bytes())
    data["seq"] = 2
    checkpoint.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: _truncate(p, 2),
        lambda p: _truncate(p, 0),
        _rewrite_last,
        lambda p: p.with_name(p.name + ".checkpoint").write_text("not json"),
        _forge_checkpoint,
    ],
    ids=["tail-cut", "emptied", "last-rewritten", "checkpoint-unreadable", "checkpoint-forged"],
)
def test_a_damaged_log_is_never_extended(tmp_path: pathlib.Path, damage: object) -> None:
    path = _log(tmp_path)
    assert callable(damage)
    damage(path)
    before = path.read_bytes()
    sink = JsonlAuditSink(path, hmac_key=KEY)
    with pytest.raises(AuditLogDivergedError) as caught:
        sink.append(_record(9))
    sink.close()
    assert caught.value.exit_code == 2
    assert "refusing to append" in str(caught.value)
    assert path.read_bytes() == before


def test_an_intact_log_and_a_crash_before_the_checkpoint_still_append(
    tmp_path: pathlib.Path,
) -> None:
    path = _log(tmp_path)
    checkpoint = path.with_name(path.name + ".checkpoint")
    older = checkpoint.read_bytes()
    sink = JsonlAuditSink(path, hmac_key=KEY)
    sink.append(_record(3))
    checkpoint.write_bytes(older)  # as if the process died between the append and this write
    sink.append(_record(4))
    sink.close()
    assert len(path.read_bytes().splitlines()) == 5


def test_run_refuses_to_continue_a_truncated_log(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state"
    first = write_job(tmp_path, "a", job_id="job-1")
    assert run_qengine(tmp_path, "run", str(first), "--state-dir", str(state)).returncode == 0
    log = state / "audit.jsonl"
    _truncate(log, 1)
    before = log.read_bytes()
    second = write_job(tmp_path, "b", job_id="job-2", env_id="env-2")
    done = run_qengine(tmp_path, "run", str(second), "--state-dir", str(state))
    assert done.returncode == 2, done.stderr
    assert "does not match its checkpoint" in done.stderr
    assert log.read_bytes() == before
    assert recorded(tmp_path, "job-2") == []
