"""The ``local`` key provider: master keys in files under ``<state_dir>/keys/``.

One JSON file per key id, ``<key_id>.key``, mode 0600, holding every version of that key::

    {"format": "qengine-local-key/1", "key_id": "default", "mode": "random",
     "versions": [{"version": 1, "created_at": "...", "material": "<base64, 32 bytes>"}]}

In ``passphrase`` mode a version holds a random ``salt``, the PBKDF2 ``iterations`` and a
``check`` value (to tell a wrong passphrase apart) instead of key material; the passphrase
itself is never stored. The provider refuses a key file
that group or others can access, or that another user owns. Rotation adds a version; every
version is kept, so jobs sealed under an old one still open; ``wrap`` always uses the newest.
"""

from __future__ import annotations

import base64
import pathlib
import threading
from collections.abc import Callable
from typing import Any, Literal

import attrs

from qengine._errors import InvalidInputError, SecretError
from qengine._keyid import DEFAULT_KEY_ID
from qengine._paths import state_dir
from qengine.interfaces.keys import KeyProvider, WrappedKey
from qengine.secrets import _keyfile as keyfile
from qengine.secrets import envelope
from qengine.secrets._filemode import write_private_file

Mode = Literal["random", "passphrase"]
PassphraseSource = Callable[[], bytes]


@attrs.frozen(kw_only=True)
class KeyInfo:
    """What ``qengine keys list`` shows about a key: never its material."""

    key_id: str
    mode: Mode
    versions: tuple[int, ...]
    created_at: tuple[str, ...]

    @property
    def newest(self) -> int:
        """The version :meth:`LocalKeyProvider.wrap` uses."""
        return self.versions[-1]


def keys_dir(explicit_state_dir: pathlib.Path | None = None) -> pathlib.Path:
    """``<state_dir>/keys``, created 0700 if missing."""
    path = state_dir(explicit_state_dir) / "keys"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def create_key(
    directory: pathlib.Path, key_id: str = DEFAULT_KEY_ID, *, passphrase: bytes | None = None
) -> KeyInfo:
    """Create key ``key_id`` with version 1; refuse if it exists.

    With ``passphrase`` the key is derived from that passphrase, which must be supplied again
    at use time; only a salt and a check value (see :func:`envelope.passphrase_check`) are
    stored.
    """
    path = keyfile.key_path(directory, key_id)
    with keyfile.dir_lock(directory):
        if path.exists():
            raise InvalidInputError(
                f"key {key_id!r} already exists in {directory}",
                hint="Use `qengine keys rotate` to add a version, or choose another --key-id.",
            )
        mode: Mode = "random" if passphrase is None else "passphrase"
        doc = {
            "format": keyfile.FORMAT,
            "key_id": key_id,
            "mode": mode,
            "versions": [keyfile.new_version(1, passphrase)],
        }
        write_private_file(path, keyfile.dump(doc))
    return _info(doc)


def rotate_key(
    directory: pathlib.Path, key_id: str = DEFAULT_KEY_ID, *, passphrase: bytes | None = None
) -> KeyInfo:
    """Add a new version to ``key_id``; older versions stay to unwrap old jobs.

    A passphrase key needs its passphrase, checked against the newest version: a key id has
    one passphrase (to change it, create a new key and re-wrap jobs onto it).
    """
    path = keyfile.key_path(directory, key_id)
    with keyfile.dir_lock(directory):
        doc = keyfile.load(path)
        newest = max(v["version"] for v in doc["versions"])
        if doc["mode"] == "passphrase":
            if passphrase is None:
                raise InvalidInputError(f"key {key_id!r} needs its passphrase to be rotated")
            keyfile.check_passphrase(doc, keyfile.version_entry(doc, newest), passphrase)
        doc["versions"].append(keyfile.new_version(newest + 1, passphrase))
        write_private_file(path, keyfile.dump(doc))
    return _info(doc)


def key_info(directory: pathlib.Path, key_id: str = DEFAULT_KEY_ID) -> KeyInfo:
    """What is known about one key (its file is permission-checked)."""
    return _info(keyfile.load(keyfile.key_path(directory, key_id)))


def list_keys(directory: pathlib.Path) -> list[KeyInfo]:
    """Every key in ``directory``, sorted by id (each file is permission-checked)."""
    return [_info(keyfile.load(path)) for path in sorted(directory.glob("*.key"))]


class LocalKeyProvider(KeyProvider):
    """Wraps data keys under a local master key file; see the module docstring.

    ``passphrase`` is called at most once, and only when a passphrase-mode key is used.
    Derived organization keys are cached per instance (one PBKDF2 run per organization).
    """

    kind = "local"

    def __init__(
        self,
        directory: pathlib.Path,
        *,
        key_id: str = DEFAULT_KEY_ID,
        passphrase: PassphraseSource | None = None,
    ) -> None:
        self._directory = directory
        self._key_id = key_id
        self._passphrase_source = passphrase
        self._passphrase: bytes | None = None
        self._org_keys: dict[tuple[str, int, str], bytes] = {}
        self._lock = threading.Lock()

    def wrap(self, data_key: bytes, *, organization_id: str) -> WrappedKey:
        """Wrap under the newest version of this provider's key id."""
        doc = keyfile.load(keyfile.key_path(self._directory, self._key_id))
        version = max(v["version"] for v in doc["versions"])
        ref = envelope.MasterKeyRef(provider=self.kind, key_id=self._key_id, version=version)
        org_key = self._org_key(doc, ref, organization_id)
        ciphertext = envelope.wrap_data_key(
            org_key, data_key, organization_id=organization_id, ref=ref
        )
        return WrappedKey(
            provider=self.kind, key_id=ref.key_id, version=version, ciphertext=ciphertext
        )

    def unwrap(self, wrapped: WrappedKey, *, organization_id: str) -> bytes:
        """Unwrap with whichever key id and version ``wrapped`` names."""
        if wrapped.provider != self.kind:
            raise SecretError(
                f"the job's data key was wrapped by provider {wrapped.provider!r}, not 'local'",
                hint="Run the job with the key provider that sealed it.",
            )
        doc = keyfile.load(keyfile.key_path(self._directory, wrapped.key_id))
        ref = envelope.MasterKeyRef(
            provider=self.kind, key_id=wrapped.key_id, version=wrapped.version
        )
        org_key = self._org_key(doc, ref, organization_id)
        return envelope.unwrap_data_key(
            org_key, wrapped.ciphertext, organization_id=organization_id, ref=ref
        )

    def _org_key(self, doc: dict[str, Any], ref: envelope.MasterKeyRef, org_id: str) -> bytes:
        cache_key = (ref.key_id, ref.version, org_id)
        with self._lock:
            if cache_key not in self._org_keys:
                self._org_keys[cache_key] = self._derive(doc, ref, org_id)
            return self._org_keys[cache_key]

    def _derive(self, doc: dict[str, Any], ref: envelope.MasterKeyRef, org_id: str) -> bytes:
        entry = keyfile.version_entry(doc, ref.version)
        if doc["mode"] == "random":
            material = base64.b64decode(entry["material"])
            return envelope.org_key_from_master(material, organization_id=org_id, ref=ref)
        passphrase = self._get_passphrase(ref.key_id)
        keyfile.check_passphrase(doc, entry, passphrase)
        return envelope.org_key_from_passphrase(
            passphrase,
            salt=base64.b64decode(entry["salt"]),
            organization_id=org_id,
            iterations=int(entry["iterations"]),
        )

    def _get_passphrase(self, key_id: str) -> bytes:
        if self._passphrase is None:
            if self._passphrase_source is None:
                raise SecretError(
                    f"key {key_id!r} is passphrase-protected and no passphrase was given",
                    hint="Pass --passphrase-fd N, or run interactively to be prompted.",
                )
            self._passphrase = self._passphrase_source()
        return self._passphrase


def _info(doc: dict[str, Any]) -> KeyInfo:
    versions = sorted(doc["versions"], key=lambda v: int(v["version"]))
    return KeyInfo(
        key_id=doc["key_id"],
        mode=doc["mode"],
        versions=tuple(int(v["version"]) for v in versions),
        created_at=tuple(str(v.get("created_at", "")) for v in versions),
    )
