"""The audit trail: a hash-chained, optionally HMAC'ed JSON-lines log and its verifier."""

from qengine.audit.sink import (
    AuditLogError,
    JsonlAuditSink,
    default_audit_path,
    default_checkpoint_path,
    load_hmac_key,
)
from qengine.audit.verify import VerifyResult, verify_audit_log

__all__ = [
    "AuditLogError",
    "JsonlAuditSink",
    "VerifyResult",
    "default_audit_path",
    "default_checkpoint_path",
    "load_hmac_key",
    "verify_audit_log",
]
