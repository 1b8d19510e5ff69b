"""Signed jobs: Ed25519 over the RFC 8785 canonical JSON of the job without its signature.

A signed job carries::

    "signature": {"key_id": "<hex>", "alg": "ed25519", "value": "<base64>"}

``key_id`` is the first 16 bytes (32 hex digits) of the SHA-256 of the raw public key, so the
engine finds the verification key without trusting anything else in the job. When trust is
configured the engine calls :func:`verify_job` before anything runs; it refuses, with
:class:`JobRefused` (a :class:`~qengine.JobRefusedError`, exit code 2), a job that is unsigned,
signed by an unknown key, tampered, expired (``not_after`` passed by more than the clock-skew
allowance, or missing), created in the future (``created_at`` beyond the allowance) or
replayed (its id was accepted before). Every field it reads is type- and length-checked
before it reaches a regular expression or a message.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from qengine._errors import JobRefusedError
from qengine.secrets.canonical import canonicalize

ALG = "ed25519"
DEFAULT_CLOCK_SKEW = datetime.timedelta(minutes=5)
MAX_VALIDITY = datetime.timedelta(days=366)
"""How far ahead a signed job's ``not_after`` may be: a job valid for ever cannot expire."""
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

Reason = Literal[
    "unsigned",
    "malformed",
    "unknown_key",
    "tampered",
    "expired",
    "not_yet_valid",
    "replayed",
    "sealed",
]
_KEY_ID = re.compile(r"[0-9a-f]{32}")


class JobRefused(JobRefusedError):
    """A job refused by :func:`verify_job`; ``reason`` is a stable code for the audit record."""

    def __init__(self, reason: Reason, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The key id of a public key: hex of the first 16 bytes of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def signed_bytes(job: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the canonical JSON of ``job`` without ``signature``."""
    return canonicalize({k: v for k, v in job.items() if k != "signature"})


def sign_job(job: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Return a copy of ``job`` carrying a signature (any previous one is replaced)."""
    value = private_key.sign(signed_bytes(job))
    signed = {k: copy.deepcopy(v) for k, v in job.items() if k != "signature"}
    signed["signature"] = {
        "key_id": key_id_of(private_key.public_key()),
        "alg": ALG,
        "value": base64.b64encode(value).decode("ascii"),
    }
    return signed


def verify_job(
    job: Mapping[str, Any],
    trusted_keys: Mapping[str, Ed25519PublicKey],
    *,
    now: datetime.datetime,
    accept_once: Callable[[str], bool],
    clock_skew: datetime.timedelta = DEFAULT_CLOCK_SKEW,
) -> None:
    """Refuse ``job`` unless it is signed by a trusted key, untampered, fresh and new.

    ``trusted_keys`` maps key ids (:func:`key_id_of`) to public keys. ``accept_once(job_id)``
    records the id and returns False if it was recorded before; it is called last, so a job
    refused for another reason does not burn its id. ``now`` must be timezone-aware.
    """
    if now.tzinfo is None:
        raise ValueError("verify_job needs a timezone-aware `now`")
    public_key, signature = _signature(job, trusted_keys)
    try:
        public_key.verify(signature, signed_bytes(job))
    except InvalidSignature:
        raise JobRefused(
            "tampered",
            "the job's signature does not match its content: it was altered after signing",
            hint="Ask the control plane for the job again; do not edit a signed job.",
        ) from None
    _check_not_after(job, now, clock_skew)
    job_id = job.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise JobRefused("malformed", "the signed job has no id ($.id)")
    if not accept_once(job_id):
        raise JobRefused(
            "replayed",
            f"job {job_id!r} was already accepted by this engine: refusing a replay",
            hint="A job id runs once. Ask the control plane for a new job.",
        )


def _signature(
    job: Mapping[str, Any], trusted_keys: Mapping[str, Ed25519PublicKey]
) -> tuple[Ed25519PublicKey, bytes]:
    section = job.get("signature")
    if section is None:
        raise JobRefused(
            "unsigned",
            "the job is not signed and this engine requires signed jobs",
            hint="Sign the job with `qengine sign` using a key the engine trusts.",
        )
    if not isinstance(section, Mapping) or section.get("alg") != ALG:
        raise JobRefused("malformed", f"$.signature must be an object with alg {ALG!r}")
    key_id = section.get("key_id")
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise JobRefused("malformed", "$.signature.key_id must be 32 lower-case hex digits")
    public_key = trusted_keys.get(key_id)
    if public_key is None:
        raise JobRefused(
            "unknown_key",
            f"the job is signed by key {key_id!r}, which this engine does not trust",
            hint="Add the control plane's public key to the engine's trusted keys.",
        )
    raw = section.get("value")
    if not isinstance(raw, str) or len(raw) > 128:
        raise JobRefused("malformed", "$.signature.value is not an Ed25519 signature in base64")
    try:
        value = base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise JobRefused("malformed", "$.signature.value is not base64") from None
    return public_key, value


def _check_not_after(
    job: Mapping[str, Any], now: datetime.datetime, clock_skew: datetime.timedelta
) -> None:
    raw = job.get("not_after")
    if raw is None:
        raise JobRefused(
            "expired",
            "the signed job has no not_after, so its freshness cannot be checked",
            hint="Sign jobs with a not_after time (RFC 3339).",
        )
    not_after = parse_rfc3339(raw, "$.not_after")
    # Compare against now +/- the skew: a date near year 9999 must not overflow.
    current = now.astimezone(datetime.UTC)
    if current - clock_skew > not_after:
        raise JobRefused(
            "expired",
            f"the job expired at {raw} (allowing {clock_skew.total_seconds():g} s of clock skew)",
            hint="Ask the control plane for a fresh job, or check this machine's clock.",
        )
    if not_after - current > MAX_VALIDITY:
        raise JobRefused(
            "malformed",
            f"the job's not_after is more than {MAX_VALIDITY.days} days ahead",
            hint="Sign jobs that expire soon after they are meant to run.",
        )
    created = job.get("created_at")
    if created is not None and parse_rfc3339(created, "$.created_at") > current + clock_skew:
        raise JobRefused(
            "not_yet_valid",
            "the job's created_at is in the future beyond the allowed clock skew",
            hint="Check the clocks of the control plane and of this machine.",
        )


def parse_rfc3339(raw: object, path: str) -> datetime.datetime:
    """Parse an RFC 3339 date-time with an explicit offset; :class:`JobRefused` otherwise."""
    if not isinstance(raw, str) or len(raw) > 64 or not _RFC3339.match(raw):
        raise JobRefused("malformed", f"{path} must be an RFC 3339 date-time with an offset")
    try:
        parsed = datetime.datetime.fromisoformat(raw.upper().replace(" ", "T"))
        return parsed.astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        raise JobRefused("malformed", f"{path} is not a valid date-time") from None
