"""Key files of the ``local`` provider: format, validation, versions, locking.

See :mod:`qengine.secrets.local_keys` for the format. Everything here works on the parsed JSON
document of one key file; nothing here caches key material.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import fcntl
import hmac
import json
import os
import pathlib
import re
from collections.abc import Iterator
from typing import Any

from qengine._errors import InvalidInputError, SecretError
from qengine.secrets import envelope
from qengine.secrets._filemode import check_private_file

FORMAT = "qengine-local-key/1"
KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VERSION_FIELDS = {
    "random": {"version", "material"},
    "passphrase": {"version", "salt", "iterations", "check"},
}


def key_path(directory: pathlib.Path, key_id: str) -> pathlib.Path:
    if not KEY_ID.match(key_id):
        raise InvalidInputError(
            f"invalid key id {key_id!r}",
            hint="A key id is 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'.",
        )
    return directory / f"{key_id}.key"


def load(path: pathlib.Path) -> dict[str, Any]:
    if not path.exists():
        raise SecretError(
            f"key file {path} does not exist",
            hint="Create it with `qengine keys create`, or point --state-dir at the right place.",
        )
    check_private_file(path, "key file")
    try:
        doc = json.loads(path.read_bytes())
    except ValueError as exc:
        raise SecretError(f"key file {path} is not valid JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not doc.get("versions"):
        raise SecretError(f"key file {path} is not a {FORMAT} file")
    if doc.get("mode") not in VERSION_FIELDS or doc.get("key_id") != path.stem:
        raise SecretError(f"key file {path} has an unknown mode or a key id not its name")
    required = VERSION_FIELDS[doc["mode"]]
    for entry in doc["versions"]:
        if not isinstance(entry, dict) or not required <= entry.keys():
            raise SecretError(f"key file {path} has a malformed version entry")
        if not isinstance(entry["version"], int) or isinstance(entry["version"], bool):
            raise SecretError(f"key file {path} has a non-integer version")
    return doc


def version_entry(doc: dict[str, Any], version: int) -> dict[str, Any]:
    for entry in doc["versions"]:
        if entry["version"] == version:
            return dict(entry)
    raise SecretError(
        f"key {doc['key_id']!r} has no version {version}",
        hint="The job was sealed under a key version this key file does not hold.",
    )


def new_version(version: int, passphrase: bytes | None) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry: dict[str, Any] = {"version": version, "created_at": now}
    if passphrase is None:
        entry["material"] = base64.b64encode(os.urandom(envelope.KEY_BYTES)).decode()
        return entry
    salt, iterations = os.urandom(16), envelope.PBKDF2_ITERATIONS
    check = envelope.passphrase_check(passphrase, salt=salt, iterations=iterations)
    entry.update(
        salt=base64.b64encode(salt).decode(),
        iterations=iterations,
        check=base64.b64encode(check).decode(),
    )
    return entry


def check_passphrase(doc: dict[str, Any], entry: dict[str, Any], passphrase: bytes) -> None:
    expected = base64.b64decode(entry["check"])
    actual = envelope.passphrase_check(
        passphrase, salt=base64.b64decode(entry["salt"]), iterations=int(entry["iterations"])
    )
    if not hmac.compare_digest(expected, actual):
        raise SecretError(
            f"wrong passphrase for key {doc['key_id']!r} v{entry['version']}",
            hint="Give the passphrase the key was created with (--passphrase-fd N or the prompt).",
        )


def dump(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


@contextlib.contextmanager
def dir_lock(directory: pathlib.Path) -> Iterator[None]:
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
