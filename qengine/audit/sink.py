"""The default audit sink: an append-only, hash-chained JSON-lines file.

Appends are serialized across threads (a lock) and processes (``flock`` on the log), and each
is flushed and fsync'ed before :meth:`JsonlAuditSink.append` returns. After each append the
checkpoint file (``<log>.checkpoint`` unless told otherwise) is replaced atomically with the
last sequence number and line hash, MAC'ed when the sink has an HMAC key: keep a copy of it
(or of its latest value) where the log's writers cannot reach, and a truncated tail is found.
:meth:`JsonlAuditSink.append_all` writes a batch (a job's outcome records) with one fsync and
one checkpoint per at most ``_MAX_AHEAD`` records, so that a crash between a batch's lines and
its checkpoint leaves a log the sink still extends.

Before each append the sink compares the log with its checkpoint: a log shorter than the
checkpoint's record, or whose record at that number hashes differently, or a checkpoint that
is unreadable or (with the HMAC key) forged, makes it refuse to write
(:class:`AuditLogDivergedError`, exit code 2) rather than continue a chain from a tail that
someone cut or rewrote: continuing would bury the evidence under valid-looking records.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pathlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from qengine._errors import InvalidInputError, QengineError
from qengine.audit import _chain
from qengine.interfaces.audit import AuditRecord, AuditSink
from qengine.secrets._filemode import read_private_file, write_private_file
from qengine.secrets.canonical import canonicalize

DEFAULT_NAME = "audit.jsonl"


class AuditLogError(QengineError):
    """The audit log could not be written, or a record was refused."""


class AuditLogDivergedError(AuditLogError):
    """The log on disk is shorter than, or differs from, its checkpoint: nothing is appended."""

    exit_code = 2


# A crash between an append and its checkpoint leaves the log one record ahead (a batch of
# append_all: at most this many); more than this many records past the checkpoint were not
# written by this sink's appends.
_MAX_AHEAD = 16


def load_hmac_key(path: pathlib.Path) -> bytes:
    """Read an HMAC key file: its bytes without surrounding whitespace; 0600 and non-empty."""
    key = read_private_file(path, "HMAC key file").strip()
    if len(key) < 16:
        raise InvalidInputError(
            f"HMAC key file {path} holds fewer than 16 bytes",
            hint="Make one with `head -c 32 /dev/urandom | base64 > F; chmod 600 F`.",
        )
    return key


def default_audit_path(state_directory: pathlib.Path) -> pathlib.Path:
    """``<state_dir>/audit.jsonl``, the log used unless ``--audit-log`` says otherwise."""
    return state_directory / DEFAULT_NAME


def default_checkpoint_path(log_path: pathlib.Path) -> pathlib.Path:
    """``<log>.checkpoint``."""
    return log_path.with_name(log_path.name + ".checkpoint")


class JsonlAuditSink(AuditSink):
    """Appends :class:`AuditRecord` values as chained, canonical JSON lines (see ``_chain``)."""

    def __init__(
        self,
        path: pathlib.Path,
        *,
        hmac_key: bytes | None = None,
        checkpoint_path: pathlib.Path | None = None,
    ) -> None:
        self._path = path
        self._key = hmac_key
        self._checkpoint = checkpoint_path or default_checkpoint_path(path)
        self._lock = threading.Lock()
        try:
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
            self._fd = os.open(path, flags, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise AuditLogDivergedError(
                    f"audit log {path} is a symbolic link; refusing to append through it",
                    hint="Keep the log itself there (a link could point anywhere).",
                ) from exc
            raise AuditLogError(
                f"cannot open audit log {path}: {exc.strerror}",
                hint="Check that the directory exists and the engine's user may write to it.",
            ) from exc

    def append(self, record: AuditRecord) -> None:
        """Append ``record`` durably; refuse one holding an e-mail address."""
        self.append_all([record])

    def append_all(self, records: Sequence[AuditRecord]) -> None:
        """Append ``records`` durably, in order; refuse them all, writing none, when one holds
        an e-mail address. One fsync and one checkpoint per at most ``_MAX_AHEAD`` records."""
        pending = [_record_fields(record) for record in records]
        with self._lock:
            if self._fd < 0:
                raise AuditLogError("the audit sink is closed")
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                while pending:
                    pending = pending[self._append_locked(pending) :]
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the log file; further appends raise."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def _append_locked(self, batch: list[dict[str, Any]]) -> int:
        """Append the first records of ``batch`` (as many as keep the log at most
        ``_MAX_AHEAD`` records past its checkpoint, at least one); return how many."""
        last = _last_line(self._fd, self._path)
        seq = 0 if last is None else _seq_of(last, self._path)
        room = max(1, _MAX_AHEAD - (seq - self._check_against_checkpoint(seq)))
        prev = _chain.GENESIS if last is None else _chain.line_hash(last)
        lines = []
        for fields in batch[:room]:
            seq += 1
            fields["seq"] = seq
            fields["prev"] = prev
            if self._key is not None:
                fields["mac"] = _chain.record_mac(self._key, fields)
            line = canonicalize(fields)
            prev = _chain.line_hash(line)
            lines.append(line + b"\n")
        data = memoryview(b"".join(lines))
        while data:  # O_APPEND and the lock keep partial writes contiguous
            data = data[os.write(self._fd, data) :]
        os.fsync(self._fd)
        self._write_checkpoint(seq, prev)
        return len(lines)

    def _check_against_checkpoint(self, last_seq: int) -> int:
        """The checkpoint's record number (the log's last without a checkpoint); raises when
        the log diverges from it."""
        if not self._checkpoint.exists():
            return last_seq
        seq, digest = _read_checkpoint(self._checkpoint, self._key)
        if last_seq < seq:
            raise _diverged(
                self._path, f"it ends at record {last_seq} but its checkpoint names record {seq}"
            )
        if seq == 0:
            return 0
        if last_seq - seq > _MAX_AHEAD:
            raise _diverged(
                self._path, f"it has {last_seq - seq} records past its checkpoint's record {seq}"
            )
        line = _line_with_seq(self._fd, seq)
        if line is None or _chain.line_hash(line) != digest:
            raise _diverged(self._path, f"its record {seq} differs from its checkpoint's")
        return seq

    def _write_checkpoint(self, seq: int, digest: str) -> None:
        checkpoint: dict[str, Any] = {"seq": seq, "hash": digest}
        if self._key is not None:
            checkpoint["mac"] = _chain.checkpoint_mac(self._key, checkpoint)
        write_private_file(self._checkpoint, canonicalize(checkpoint) + b"\n")


def _record_fields(record: AuditRecord) -> dict[str, Any]:
    fields = attrs.asdict(record)
    fields["details"] = dict(record.details)
    for where, text in _texts(fields):
        if not isinstance(text, str):
            raise AuditLogError(f"audit record field {where} must be a string")
        if _chain.contains_email(text):
            raise AuditLogError(
                f"audit record field {where} contains an e-mail address; refusing to write it",
                hint="Audit records carry pseudonymous ids only: no names or e-mail addresses.",
            )
    return fields


def _texts(fields: Mapping[str, Any]) -> Iterator[tuple[str, object]]:
    for name, value in fields.items():
        if name == "details":
            for key, item in value.items():
                yield "a details key", key
                yield f"details[{key!r}]", item
        else:
            yield name, value


def _diverged(path: pathlib.Path, why: str) -> AuditLogDivergedError:
    return AuditLogDivergedError(
        f"audit log {path} does not match its checkpoint: {why}; refusing to append",
        hint="The log was truncated or rewritten. Keep it as evidence: run `qengine audit "
        "verify` on it with the checkpoint, then move both aside to start a new log.",
    )


def _read_checkpoint(path: pathlib.Path, key: bytes | None) -> tuple[int, str]:
    """The checkpoint's record number and hash; raises when it cannot be trusted."""
    try:
        checkpoint = json.loads(path.read_bytes())
    except (OSError, ValueError):
        checkpoint = None
    seq = checkpoint.get("seq") if isinstance(checkpoint, dict) else None
    digest = checkpoint.get("hash") if isinstance(checkpoint, dict) else None
    if not isinstance(seq, int) or seq < 0 or not isinstance(digest, str):
        raise _diverged(path, f"its checkpoint {path} is unreadable")
    assert isinstance(checkpoint, dict)
    if key is not None and not _chain.macs_equal(
        _chain.checkpoint_mac(key, checkpoint), checkpoint.get("mac")
    ):
        raise _diverged(path, f"its checkpoint {path} has a missing or wrong MAC")
    return seq, digest


def _line_with_seq(fd: int, seq: int) -> bytes | None:
    """The line whose record number is ``seq``, read backwards from the end (it is near)."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, min(size, 1024 * 1024), max(0, size - 1024 * 1024))
    for line in reversed(data.rstrip(b"\n").split(b"\n")):
        try:
            found = json.loads(line).get("seq")
        except (ValueError, AttributeError):
            return None
        if found == seq:
            return line
        if not isinstance(found, int) or found < seq:
            return None
    return None


def _seq_of(line: bytes, path: pathlib.Path) -> int:
    try:
        seq = json.loads(line)["seq"]
    except (ValueError, KeyError, TypeError):
        seq = None
    if not isinstance(seq, int):
        raise AuditLogError(
            f"the last record of audit log {path} is unreadable; refusing to extend it",
            hint="Run `qengine audit verify` on it; move it aside before writing a new log.",
        )
    return seq


def _last_line(fd: int, path: pathlib.Path) -> bytes | None:
    """The last complete line of the file (without newline), or None if it is empty."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    if os.pread(fd, 1, size - 1) != b"\n":
        raise AuditLogError(
            f"audit log {path} ends with a partial record",
            hint="Run `qengine audit verify` on it; move it aside before writing a new log.",
        )
    end, start, chunk = size - 1, size - 1, 4096
    while start > 0:
        start = max(0, start - chunk)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            start += newline + 1
            break
    return os.pread(fd, end - start, start)
