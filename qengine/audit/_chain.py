"""The record format shared by the audit sink and the verifier.

Each line of the log is the RFC 8785 canonical JSON of one record, then ``\\n``::

    {"action": ..., "actor_id": ..., "details": {...}, "job_id": ..., "mac": "<hex>",
     "outcome": ..., "prev": "<hex>", "seq": 1, "target": ..., "time": ...}

``prev`` is the SHA-256 of the previous line's bytes (without its newline), 64 zeros for the
first record. ``mac``, present when the log has an HMAC key, is HMAC-SHA256 over the record's
canonical bytes without ``mac``, domain-separated from the checkpoint's MAC.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from qengine.secrets._fields import encode_fields
from qengine.secrets.canonical import canonicalize

GENESIS = "0" * 64
FIELDS = ("seq", "time", "job_id", "actor_id", "action", "target", "outcome", "details", "prev")
_RECORD_DOMAIN = "qengine/audit-record/v1"
_CHECKPOINT_DOMAIN = "qengine/audit-checkpoint/v1"
# One character before the ``@`` is enough to say "shaped like an address"; a repeated local
# part (``[...]+@``) would make every search quadratic in a long text without an ``@``.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def line_hash(line: bytes) -> str:
    """SHA-256 hex of one log line without its newline."""
    return hashlib.sha256(line).hexdigest()


def record_mac(key: bytes, record: Mapping[str, Any]) -> str:
    """The MAC of a record (computed without its ``mac`` member)."""
    body = canonicalize({k: v for k, v in record.items() if k != "mac"})
    return hmac.new(key, encode_fields(_RECORD_DOMAIN, body), hashlib.sha256).hexdigest()


def checkpoint_mac(key: bytes, checkpoint: Mapping[str, Any]) -> str:
    """The MAC of a checkpoint (computed without its ``mac`` member)."""
    body = canonicalize({k: v for k, v in checkpoint.items() if k != "mac"})
    return hmac.new(key, encode_fields(_CHECKPOINT_DOMAIN, body), hashlib.sha256).hexdigest()


def macs_equal(left: str, right: object) -> bool:
    """Constant-time comparison of a computed MAC with a stored one."""
    return isinstance(right, str) and hmac.compare_digest(left, right)


def contains_email(text: str) -> bool:
    """True when ``text`` holds something shaped like an e-mail address."""
    return _EMAIL.search(text) is not None
