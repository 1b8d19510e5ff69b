"""Verifying an audit log: the chain, the MACs, and the checkpoint.

What is detected, and reported as the first bad record (by line number, which is also the
expected sequence number):

- an edited byte anywhere but the last line (the next record's ``prev`` no longer matches, or
  the line is no longer canonical JSON); in the last line too with an HMAC key or a checkpoint;
- a deleted, inserted or reordered line (sequence numbers and ``prev`` break);
- with a checkpoint: a truncated tail (the log ends before the checkpoint's record). Without
  an HMAC key the checkpoint itself can be rewritten by whoever can write the log.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import attrs

from qengine._errors import InvalidInputError
from qengine.audit import _chain
from qengine.secrets.canonical import canonicalize


@attrs.frozen(kw_only=True)
class VerifyResult:
    """``ok`` with the number of good records, or the first bad line and why."""

    ok: bool
    records: int
    first_bad: int | None = None
    reason: str = ""

    def describe(self, path: pathlib.Path) -> str:
        """One line for a person: what was verified, or which record is bad and why."""
        if self.ok:
            return f"{path}: ok, {self.records} record(s) verified"
        return f"{path}: record {self.first_bad} (line {self.first_bad}) is bad: {self.reason}"


class _Bad(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def verify_audit_log(
    path: pathlib.Path, hmac_key: bytes | None = None, checkpoint: pathlib.Path | None = None
) -> VerifyResult:
    """Check every record of the log at ``path`` (see the module docstring)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read audit log {path}: {exc.strerror}") from exc
    lines = data.split(b"\n")
    complete, partial = lines[:-1], lines[-1]
    try:
        _check_lines(complete, hmac_key)
        if partial:
            raise _Bad(len(complete) + 1, "the last line is incomplete (no newline)")
        if checkpoint is not None:
            _check_checkpoint(complete, checkpoint, hmac_key)
    except _Bad as bad:
        return VerifyResult(ok=False, records=bad.line - 1, first_bad=bad.line, reason=bad.reason)
    return VerifyResult(ok=True, records=len(complete))


def _check_lines(lines: list[bytes], key: bytes | None) -> None:
    prev = _chain.GENESIS
    for number, line in enumerate(lines, start=1):
        record = _parse(number, line)
        if record.get("seq") != number:
            raise _Bad(
                number,
                f"sequence number {record.get('seq')!r} where {number} was "
                "expected: a record was deleted, inserted or reordered",
            )
        if record.get("prev") != prev:
            raise _Bad(
                number,
                f"its prev hash does not match record {number - 1}: a record "
                "before it was edited, deleted, inserted or reordered",
            )
        if key is not None and not _chain.macs_equal(
            _chain.record_mac(key, record), record.get("mac")
        ):
            raise _Bad(number, "its MAC is missing or wrong: the record was edited or forged")
        prev = _chain.line_hash(line)


def _parse(number: int, line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        raise _Bad(number, "not valid JSON: the line was edited") from None
    if not isinstance(record, dict) or any(field not in record for field in _chain.FIELDS):
        raise _Bad(number, "not an audit record: fields are missing")
    try:
        canonical = canonicalize(record) == line
    except InvalidInputError:
        canonical = False
    if not canonical:
        raise _Bad(number, "not in canonical form: the line was edited")
    return record


def _check_checkpoint(lines: list[bytes], path: pathlib.Path, key: bytes | None) -> None:
    checkpoint = _load_checkpoint(path)
    end = len(lines) + 1
    if key is not None and not _chain.macs_equal(
        _chain.checkpoint_mac(key, checkpoint), checkpoint.get("mac")
    ):
        raise _Bad(end, f"the checkpoint {path} has a missing or wrong MAC: it was forged")
    seq = checkpoint.get("seq")
    if not isinstance(seq, int) or seq < 0:
        raise InvalidInputError(f"checkpoint {path} has no valid seq")
    if seq > len(lines):
        raise _Bad(
            end,
            f"the log ends at record {len(lines)} but the checkpoint names record "
            f"{seq}: the tail was truncated",
        )
    if seq and _chain.line_hash(lines[seq - 1]) != checkpoint.get("hash"):
        raise _Bad(seq, "its hash differs from the checkpoint's: the record was edited")


def _load_checkpoint(path: pathlib.Path) -> dict[str, Any]:
    try:
        checkpoint = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read checkpoint {path}") from exc
    if not isinstance(checkpoint, dict):
        raise InvalidInputError(f"checkpoint {path} is not a JSON object")
    return checkpoint
