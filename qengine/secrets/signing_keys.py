"""Ed25519 signing keys as PEM files: generate, load (private files must be 0600)."""

from __future__ import annotations

import pathlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from qengine._errors import InvalidInputError
from qengine.secrets._filemode import read_private_file, write_private_file
from qengine.secrets.signing import key_id_of

PRIVATE_NAME = "signing-key.pem"
PUBLIC_NAME = "signing-key.pub.pem"


def generate_signing_key(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, str]:
    """Write a new key pair into ``directory`` (created 0700); return paths and key id.

    The private key file is 0600; an existing one is never overwritten.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path, public_path = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    if private_path.exists() or public_path.exists():
        raise InvalidInputError(f"a signing key already exists in {directory}")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_private_file(private_path, pem)
    public_path.write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    return private_path, public_path, key_id_of(key.public_key())


def load_private_key(path: pathlib.Path) -> Ed25519PrivateKey:
    """Load an Ed25519 private key PEM; refuse a file group or others can read."""
    try:
        key = load_pem_private_key(read_private_file(path, "signing key"), password=None)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cannot read an unencrypted private key from {path}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInputError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: pathlib.Path) -> Ed25519PublicKey:
    """Load an Ed25519 public key PEM."""
    try:
        key = load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read a public key from {path}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInputError(f"{path} is not an Ed25519 public key")
    return key


def load_trusted_keys(paths: list[pathlib.Path]) -> dict[str, Ed25519PublicKey]:
    """The engine's trust setting: key id -> public key, from PEM files."""
    keys = [load_public_key(path) for path in paths]
    return {key_id_of(key): key for key in keys}
