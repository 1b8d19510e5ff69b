"""Envelope encryption: master key -> organization key -> job data key -> sealed secrets.

- The **organization key** is derived from a master key version: HKDF-SHA256 when the master
  is 32 random bytes, PBKDF2-HMAC-SHA256 (600,000 iterations) when it is a passphrase; the
  salt binds the organization id, so each organization has its own key.
- The **data key** is 32 random bytes per job, wrapped (AES-256-GCM) by the organization key
  with the organization id and the master key's id and version as associated data.
- Each **secret** is sealed with AES-256-GCM under the data key, a random 96-bit nonce, and
  associated data binding organization id, job id, secret name, key id and key version.

Associated data is encoded with :func:`~qengine.secrets._fields.encode_fields` (length-
prefixed), so no two different contexts encode alike. A ciphertext moved to another job,
organization or name fails its tag check and raises :class:`SecretError`, naming the secret
and the context, never the value.
"""

from __future__ import annotations

import base64
import binascii
import os

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from qengine._errors import SecretError
from qengine.secrets._fields import encode_fields
from qengine.secrets.value import SecretValue

KEY_BYTES = 32
NONCE_BYTES = 12
PBKDF2_ITERATIONS = 600_000

_ORG_SALT = "qengine/org-salt/v1"
_ORG_INFO = "qengine/org-key/v1"
_CHECK_SALT = "qengine/passphrase-check/v1"
_DATA_KEY_AD = "qengine/data-key/v1"
_SECRET_AD = "qengine/secret/v1"  # noqa: S105 - a domain label, not a password


@attrs.frozen(kw_only=True)
class MasterKeyRef:
    """Which master key version wrapped a data key: provider kind, key id, version."""

    provider: str
    key_id: str
    version: int


@attrs.frozen(kw_only=True)
class SealContext:
    """Everything a sealed secret is bound to besides its name."""

    organization_id: str
    job_id: str
    master: MasterKeyRef


def new_data_key() -> bytes:
    """Return a fresh random 32-byte data key."""
    return os.urandom(KEY_BYTES)


def org_key_from_master(master: bytes, *, organization_id: str, ref: MasterKeyRef) -> bytes:
    """Derive an organization key from a random master key with HKDF-SHA256."""
    if len(master) != KEY_BYTES:
        raise SecretError(f"master key {ref.key_id} v{ref.version} is not {KEY_BYTES} bytes")
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=encode_fields(_ORG_SALT, organization_id),
        info=encode_fields(_ORG_INFO, ref.provider, ref.key_id, ref.version),
    ).derive(master)


def org_key_from_passphrase(
    passphrase: bytes, *, salt: bytes, organization_id: str, iterations: int = PBKDF2_ITERATIONS
) -> bytes:
    """Derive an organization key from a passphrase with PBKDF2-HMAC-SHA256.

    ``salt`` is the key version's random salt; the organization id is bound into the salt too.
    """
    if iterations < PBKDF2_ITERATIONS:
        raise SecretError(f"refusing PBKDF2 with {iterations} iterations (< {PBKDF2_ITERATIONS})")
    return PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=encode_fields(_ORG_SALT, salt, organization_id),
        iterations=iterations,
    ).derive(passphrase)


def passphrase_check(passphrase: bytes, *, salt: bytes, iterations: int) -> bytes:
    """A value stored beside a passphrase key version to tell a wrong passphrase apart.

    It costs a guesser as much as a derived organization key (same KDF and iterations) and
    is derived under its own domain label, so it reveals nothing about any organization key.
    """
    return PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=encode_fields(_CHECK_SALT, salt),
        iterations=iterations,
    ).derive(passphrase)


def wrap_data_key(
    org_key: bytes, data_key: bytes, *, organization_id: str, ref: MasterKeyRef
) -> str:
    """Encrypt ``data_key`` under ``org_key``; return base64 of nonce || ciphertext."""
    ad = encode_fields(_DATA_KEY_AD, organization_id, ref.provider, ref.key_id, ref.version)
    return _seal(org_key, data_key, ad)


def unwrap_data_key(
    org_key: bytes, wrapped: str, *, organization_id: str, ref: MasterKeyRef
) -> bytes:
    """Inverse of :func:`wrap_data_key`; :class:`SecretError` on any mismatch or tampering."""
    ad = encode_fields(_DATA_KEY_AD, organization_id, ref.provider, ref.key_id, ref.version)
    try:
        return _open(org_key, wrapped, ad)
    except SecretError as exc:
        raise SecretError(
            f"the job's data key does not unwrap with key {ref.key_id} v{ref.version} "
            f"for organization {organization_id!r}: {exc.message}",
            hint="The job was sealed for another organization or key, the key or passphrase "
            "is wrong, or the sealed section was altered. Seal the job again.",
        ) from exc


def seal_secret(data_key: bytes, value: str, *, name: str, context: SealContext) -> str:
    """Seal one secret value; return base64 of nonce || ciphertext."""
    return _seal(data_key, value.encode("utf-8"), _secret_ad(name, context))


def open_secret(data_key: bytes, sealed: str, *, name: str, context: SealContext) -> SecretValue:
    """Open a secret sealed by :func:`seal_secret` for exactly this name and context."""
    try:
        plaintext = _open(data_key, sealed, _secret_ad(name, context))
    except SecretError as exc:
        raise SecretError(
            f"secret {name!r} does not open for job {context.job_id!r} of organization "
            f"{context.organization_id!r}: {exc.message}",
            hint="A sealed secret opens only for the job, organization and name it was sealed "
            "for. Seal the job again with `qengine seal`.",
        ) from exc
    try:
        return SecretValue(plaintext.decode("utf-8"))
    except UnicodeDecodeError:
        # The decode error quotes the offending byte, which is part of the secret.
        raise SecretError(f"secret {name!r} is not UTF-8 text") from None


def check_secret(data_key: bytes, sealed: str, *, name: str, context: SealContext) -> None:
    """Raise :class:`SecretError` as :func:`open_secret` would, keeping nothing: the tag and
    the text are checked, and the plaintext is dropped at once (nothing is reported open)."""
    open_secret(data_key, sealed, name=name, context=context)


def _secret_ad(name: str, context: SealContext) -> bytes:
    ref = context.master
    return encode_fields(
        _SECRET_AD,
        context.organization_id,
        context.job_id,
        name,
        ref.provider,
        ref.key_id,
        ref.version,
    )


def _seal(key: bytes, plaintext: bytes, ad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, ad)).decode("ascii")


def _open(key: bytes, blob: str, ad: bytes) -> bytes:
    try:
        raw = base64.b64decode(blob.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise SecretError("the ciphertext is not valid base64") from exc
    if len(raw) < NONCE_BYTES + 16:
        raise SecretError("the ciphertext is too short")
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], ad)
    except InvalidTag:
        raise SecretError("authentication failed (wrong key or context, or altered)") from None
