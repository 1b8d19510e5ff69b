"""The audit log: appends chain and verify; every kind of tampering is found and located."""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import pathlib
import threading

import pytest

from qengine.audit import (
    AuditLogError,
    JsonlAuditSink,
    default_audit_path,
    default_checkpoint_path,
    records,
    verify_audit_log,
)
from qengine.interfaces.audit import AuditRecord
from qengine.secrets.sandbox import seal_for_sandbox
from qengine.secrets.unsealing import SealedSecrets

KEY = b"0123456789abcdef0123456789abcdef"


def _record(index: int, **changes: object) -> AuditRecord:
    fields: dict[str, object] = {
        "time": f"2026-11-29T02:00:{index % 60:02d}Z",
        "job_id": "job-0001",
        "actor_id": "actor-7f3a",
        "action": "step.finished",
        "target": f"service/api-{index}",
        "outcome": "ok",
        "details": {"step": f"deploy-{index}"},
    }
    fields.update(changes)
    return AuditRecord(**fields)  # type: ignore[arg-type]


def _write_log(path: pathlib.Path, count: int = 6, key: bytes | None = None) -> None:
    sink = JsonlAuditSink(path, hmac_key=key)
    for index in range(count):
        sink.append(_record(index))
    sink.close()


def _lines(path: pathlib.Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@pytest.fixture
def log(tmp_path: pathlib.Path) -> pathlib.Path:
    path = default_audit_path(tmp_path)
    _write_log(path)
    return path


@pytest.fixture
def keyed_log(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "keyed-audit.jsonl"
    _write_log(path, key=KEY)
    return path


def test_records_chain_and_verify(log: pathlib.Path) -> None:
    records = [json.loads(line) for line in _lines(log)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0]["prev"] == "0" * 64
    assert records[1]["details"] == {"step": "deploy-1"}
    assert "mac" not in records[0]
    result = verify_audit_log(log, checkpoint=default_checkpoint_path(log))
    assert (result.ok, result.records) == (True, 6)
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_keyed_records_carry_a_mac_and_verify_only_with_the_key(keyed_log: pathlib.Path) -> None:
    assert all("mac" in json.loads(line) for line in _lines(keyed_log))
    assert verify_audit_log(keyed_log, KEY, default_checkpoint_path(keyed_log)).ok
    wrong = verify_audit_log(keyed_log, b"another key of 32 bytes........")
    assert (wrong.ok, wrong.first_bad) == (False, 1)


def _edit_byte(path: pathlib.Path, line: int, old: bytes, new: bytes) -> None:
    lines = _lines(path)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_bytes(b"".join(lines))


def test_an_edited_byte_breaks_the_next_record_without_a_key(log: pathlib.Path) -> None:
    _edit_byte(log, 3, b"api-2", b"api-9")
    result = verify_audit_log(log)
    assert (result.ok, result.first_bad) == (False, 4)
    assert "prev hash" in result.reason


def test_an_edited_byte_is_pinned_to_its_record_with_a_key(keyed_log: pathlib.Path) -> None:
    _edit_byte(keyed_log, 3, b"api-2", b"api-9")
    result = verify_audit_log(keyed_log, KEY)
    assert (result.ok, result.first_bad) == (False, 3)
    assert "MAC" in result.reason


def test_an_edit_that_breaks_json_is_named(log: pathlib.Path) -> None:
    _edit_byte(log, 2, b'"seq":2', b'"seq":2,')
    assert verify_audit_log(log).first_bad == 2


def test_an_edit_of_the_last_line_is_found_with_the_checkpoint(log: pathlib.Path) -> None:
    _edit_byte(log, 6, b"api-5", b"api-0")
    assert verify_audit_log(log).ok  # the documented limit without key or checkpoint
    result = verify_audit_log(log, checkpoint=default_checkpoint_path(log))
    assert (result.ok, result.first_bad) == (False, 6)


def test_a_deleted_line_is_found(log: pathlib.Path) -> None:
    lines = _lines(log)
    log.write_bytes(b"".join(lines[:2] + lines[3:]))
    result = verify_audit_log(log)
    assert (result.ok, result.first_bad) == (False, 3)
    assert "deleted, inserted or reordered" in result.reason


def test_a_deleted_first_line_is_found(log: pathlib.Path) -> None:
    log.write_bytes(b"".join(_lines(log)[1:]))
    assert verify_audit_log(log).first_bad == 1


def test_an_inserted_line_is_found(log: pathlib.Path) -> None:
    lines = _lines(log)
    log.write_bytes(b"".join([*lines[:4], lines[1], *lines[4:]]))
    assert verify_audit_log(log).first_bad == 5


def test_reordered_lines_are_found(log: pathlib.Path) -> None:
    lines = _lines(log)
    lines[2], lines[3] = lines[3], lines[2]
    log.write_bytes(b"".join(lines))
    assert verify_audit_log(log).first_bad == 3


def test_a_truncated_tail_is_found_with_the_checkpoint(keyed_log: pathlib.Path) -> None:
    keyed_log.write_bytes(b"".join(_lines(keyed_log)[:4]))
    checkpoint = default_checkpoint_path(keyed_log)
    assert verify_audit_log(keyed_log, KEY).ok  # without the checkpoint it cannot be seen
    result = verify_audit_log(keyed_log, KEY, checkpoint)
    assert (result.ok, result.first_bad, result.records) == (False, 5, 4)
    assert "truncated" in result.reason


def test_a_forged_checkpoint_is_found_with_the_key(keyed_log: pathlib.Path) -> None:
    lines = _lines(keyed_log)[:4]
    keyed_log.write_bytes(b"".join(lines))
    checkpoint = default_checkpoint_path(keyed_log)
    forged = json.loads(checkpoint.read_bytes())
    forged["seq"] = 4
    checkpoint.write_text(json.dumps(forged))
    result = verify_audit_log(keyed_log, KEY, checkpoint)
    assert (result.ok, "forged" in result.reason) == (False, True)


def test_a_rewritten_chain_is_found_only_with_the_key(tmp_path: pathlib.Path) -> None:
    original, forged = tmp_path / "original.jsonl", tmp_path / "forged.jsonl"
    _write_log(original, key=KEY)
    # Someone who can write the file rebuilds the whole chain with a sink of their own.
    sink = JsonlAuditSink(forged)
    for index in range(6):
        sink.append(_record(index, outcome="forged"))
    sink.close()
    assert verify_audit_log(forged).ok
    result = verify_audit_log(forged, KEY)
    assert (result.ok, result.first_bad) == (False, 1)


def test_a_partial_last_line_is_reported_and_blocks_appends(log: pathlib.Path) -> None:
    with log.open("ab") as handle:
        handle.write(b'{"seq":7')
    result = verify_audit_log(log)
    assert (result.ok, result.first_bad) == (False, 7)
    sink = JsonlAuditSink(log)
    with pytest.raises(AuditLogError, match="partial record"):
        sink.append(_record(7))
    sink.close()


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"details": {"who": "jane.doe@example.com"}}, id="details-value"),
        pytest.param({"details": {"ops@example.org": "x"}}, id="details-key"),
        pytest.param({"actor_id": "jane@example.co.uk"}, id="actor"),
        pytest.param({"target": "mailto:a.b+c@sub.example.io"}, id="target"),
    ],
)
def test_records_with_an_email_address_are_refused(
    tmp_path: pathlib.Path, changes: dict[str, object]
) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path)
    with pytest.raises(AuditLogError, match="e-mail address") as caught:
        sink.append(_record(0, **changes))
    assert "@" not in str(caught.value)
    sink.close()
    assert path.read_bytes() == b""


def test_appends_after_reopening_continue_the_chain(log: pathlib.Path) -> None:
    sink = JsonlAuditSink(log)
    sink.append(_record(6))
    sink.close()
    assert verify_audit_log(log, checkpoint=default_checkpoint_path(log)).records == 7
    with pytest.raises(AuditLogError, match="closed"):
        sink.append(_record(7))


def test_a_batch_chains_as_single_appends_do(tmp_path: pathlib.Path) -> None:
    one_by_one, batched = tmp_path / "one.jsonl", tmp_path / "batch.jsonl"
    _write_log(one_by_one, count=40, key=KEY)
    sink = JsonlAuditSink(batched, hmac_key=KEY)
    sink.append(_record(0))
    sink.append_all([_record(index) for index in range(1, 40)])
    sink.close()
    assert batched.read_bytes() == one_by_one.read_bytes()
    checkpoint = default_checkpoint_path(batched)
    assert checkpoint.read_bytes() == default_checkpoint_path(one_by_one).read_bytes()
    assert verify_audit_log(batched, checkpoint=checkpoint, hmac_key=KEY).records == 40


def test_a_batch_keeps_the_log_within_reach_of_its_checkpoint(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each write of a batch is followed by its checkpoint before the next (at most 16 lines),
    so that a crash between the two leaves a log the sink still extends."""
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path)
    written: list[int] = []
    checkpoint = sink._write_checkpoint

    def spy(seq: int, digest: str) -> None:
        written.append(seq)
        checkpoint(seq, digest)

    monkeypatch.setattr(sink, "_write_checkpoint", spy)
    sink.append_all([_record(index) for index in range(40)])
    sink.close()
    assert written == [16, 32, 40]


def test_a_batch_with_one_refused_record_writes_none(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path)
    with pytest.raises(AuditLogError, match="e-mail address"):
        sink.append_all([_record(0), _record(1, actor_id="ops@example.com")])
    sink.close()
    assert path.read_bytes() == b""


def test_concurrent_threads_append_a_valid_chain(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path, hmac_key=KEY)

    def append_many() -> None:
        for index in range(25):
            sink.append(_record(index))

    threads = [threading.Thread(target=append_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    result = verify_audit_log(path, KEY, default_checkpoint_path(path))
    assert (result.ok, result.records) == (True, 100)


def _append_from_process(path: str, count: int) -> None:
    sink = JsonlAuditSink(pathlib.Path(path), hmac_key=KEY)
    for index in range(count):
        sink.append(_record(index, actor_id=f"process-{os.getpid()}"))
    sink.close()


def test_concurrent_processes_append_a_valid_chain(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_from_process, args=(str(path), 20)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    result = verify_audit_log(path, KEY, default_checkpoint_path(path))
    assert (result.ok, result.records) == (True, 60)


def test_a_log_whose_last_record_is_unreadable_is_not_extended(log: pathlib.Path) -> None:
    with log.open("ab") as handle:
        handle.write(b"garbage\n")
    sink = JsonlAuditSink(log)
    with pytest.raises(AuditLogError, match="unreadable"):
        sink.append(_record(7))
    sink.close()


def test_an_unwritable_location_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(AuditLogError, match="cannot open audit log"):
        JsonlAuditSink(tmp_path / "missing-dir" / "audit.jsonl")


def test_record_builders_write_refusals_and_unsealings(
    tmp_path: pathlib.Path, job: dict[str, object], plaintext: dict[str, str]
) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path)
    moment = datetime.datetime(2026, 11, 29, 2, 0, 0, 123456, tzinfo=datetime.UTC)
    sealed, provider = seal_for_sandbox(job, plaintext)
    on_open = records.unsealed_recorder(
        sink, job_id="job-0001", actor_id="actor-7f3a", clock=lambda: moment
    )
    SealedSecrets.from_job(sealed, provider, on_open=on_open).open("git-token")
    sink.append(records.job_refused("job-0002", "actor-7f3a", "replayed", clock=lambda: moment))
    sink.close()
    written = [json.loads(line) for line in _lines(path)]
    assert [(r["action"], r["target"], r["outcome"]) for r in written] == [
        ("secret.unsealed", "git-token", "ok"),
        ("job.refused", "", "refused"),
    ]
    assert written[0]["time"] == "2026-11-29T02:00:00.123Z"
    assert written[1]["details"] == {"reason": "replayed"}
    assert plaintext["git-token"] not in path.read_text()


def test_records_longer_than_the_tail_read_chunk_chain_correctly(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path, hmac_key=KEY)
    for index in range(3):
        sink.append(_record(index, details={"plan": "x" * (5000 * (index + 1))}))
    sink.close()
    result = verify_audit_log(path, KEY, default_checkpoint_path(path))
    assert (result.ok, result.records) == (True, 3)
