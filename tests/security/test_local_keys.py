"""The local key provider: key files, versions, rotation, permissions, passphrases."""

from __future__ import annotations

import json
import os
import pathlib

import attrs
import pytest

from qengine._errors import InvalidInputError, SecretError
from qengine.secrets.local_keys import (
    LocalKeyProvider,
    create_key,
    key_info,
    keys_dir,
    list_keys,
    rotate_key,
)
from qengine.secrets.passphrase import read_passphrase_fd

DATA_KEY = bytes(range(32))


def test_create_list_and_file_mode(keys_dir: pathlib.Path) -> None:
    create_key(keys_dir, "second")
    infos = list_keys(keys_dir)
    assert [(i.key_id, i.mode, i.versions) for i in infos] == [
        ("default", "random", (1,)),
        ("second", "random", (1,)),
    ]
    assert (keys_dir / "default.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(InvalidInputError, match="already exists"):
        create_key(keys_dir)


def test_wrap_unwrap_round_trip_and_organization_binding(provider: LocalKeyProvider) -> None:
    wrapped = provider.wrap(DATA_KEY, organization_id="org-a")
    assert (wrapped.provider, wrapped.key_id, wrapped.version) == ("local", "default", 1)
    assert provider.unwrap(wrapped, organization_id="org-a") == DATA_KEY
    with pytest.raises(SecretError, match="does not unwrap"):
        provider.unwrap(wrapped, organization_id="org-b")


def test_rotation_wraps_with_newest_and_old_versions_still_unwrap(
    keys_dir: pathlib.Path, provider: LocalKeyProvider
) -> None:
    old = provider.wrap(DATA_KEY, organization_id="org-a")
    assert rotate_key(keys_dir).versions == (1, 2)
    fresh = LocalKeyProvider(keys_dir)
    new = fresh.wrap(DATA_KEY, organization_id="org-a")
    assert new.version == 2
    assert fresh.unwrap(old, organization_id="org-a") == DATA_KEY
    assert fresh.unwrap(new, organization_id="org-a") == DATA_KEY


def test_wrong_version_and_tampered_wrapped_key_are_refused(provider: LocalKeyProvider) -> None:
    wrapped = provider.wrap(DATA_KEY, organization_id="org-a")
    with pytest.raises(SecretError, match="no version 7"):
        provider.unwrap(attrs.evolve(wrapped, version=7), organization_id="org-a")
    flipped = ("A" if wrapped.ciphertext[0] != "A" else "B") + wrapped.ciphertext[1:]
    with pytest.raises(SecretError, match="does not unwrap"):
        provider.unwrap(attrs.evolve(wrapped, ciphertext=flipped), organization_id="org-a")
    with pytest.raises(SecretError, match="provider 'aws-kms'"):
        provider.unwrap(attrs.evolve(wrapped, provider="aws-kms"), organization_id="org-a")


def test_rotated_version_is_bound_to_its_version(keys_dir: pathlib.Path) -> None:
    rotate_key(keys_dir)
    provider = LocalKeyProvider(keys_dir)
    wrapped = provider.wrap(DATA_KEY, organization_id="org-a")
    with pytest.raises(SecretError, match="does not unwrap"):
        provider.unwrap(attrs.evolve(wrapped, version=1), organization_id="org-a")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o620])
def test_key_file_accessible_by_group_or_others_is_refused(
    keys_dir: pathlib.Path, mode: int
) -> None:
    os.chmod(keys_dir / "default.key", mode)
    with pytest.raises(SecretError, match=f"mode {mode:04o}") as caught:
        LocalKeyProvider(keys_dir).wrap(DATA_KEY, organization_id="org-a")
    assert "chmod 600" in caught.value.hint


def test_key_file_owned_by_another_user_is_refused(keys_dir: pathlib.Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test changes a file's owner and needs root, which the CI machine has")
    os.chown(keys_dir / "default.key", 65534, 65534)
    with pytest.raises(SecretError, match="owned by uid 65534"):
        LocalKeyProvider(keys_dir).wrap(DATA_KEY, organization_id="org-a")


def test_missing_key_and_invalid_key_id(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SecretError, match="does not exist") as caught:
        LocalKeyProvider(tmp_path).wrap(DATA_KEY, organization_id="org-a")
    assert "qengine keys create" in caught.value.hint
    with pytest.raises(InvalidInputError, match="invalid key id"):
        create_key(tmp_path, "../escape")


def test_keys_dir_lives_under_the_state_dir(tmp_path: pathlib.Path) -> None:
    directory = keys_dir(tmp_path / "state")
    assert directory == tmp_path / "state" / "keys"
    assert directory.stat().st_mode & 0o777 == 0o700


def test_passphrase_mode_round_trip_rotation_and_wrong_passphrase(tmp_path: pathlib.Path) -> None:
    info = create_key(tmp_path, "pp", passphrase=b"correct horse")
    assert info.mode == "passphrase"
    assert b"correct horse" not in (tmp_path / "pp.key").read_bytes()
    provider = LocalKeyProvider(tmp_path, key_id="pp", passphrase=lambda: b"correct horse")
    wrapped = provider.wrap(DATA_KEY, organization_id="org-a")
    with pytest.raises(SecretError, match="wrong passphrase"):
        rotate_key(tmp_path, "pp", passphrase=b"other")
    rotate_key(tmp_path, "pp", passphrase=b"correct horse")
    reopened = LocalKeyProvider(tmp_path, key_id="pp", passphrase=lambda: b"correct horse")
    assert reopened.unwrap(wrapped, organization_id="org-a") == DATA_KEY
    assert reopened.wrap(DATA_KEY, organization_id="org-a").version == 2
    wrong = LocalKeyProvider(tmp_path, key_id="pp", passphrase=lambda: b"wrong")
    with pytest.raises(SecretError, match="wrong passphrase"):
        wrong.unwrap(wrapped, organization_id="org-a")
    with pytest.raises(SecretError, match="no passphrase was given"):
        LocalKeyProvider(tmp_path, key_id="pp").unwrap(wrapped, organization_id="org-a")


def test_passphrase_is_requested_once_per_provider(tmp_path: pathlib.Path) -> None:
    create_key(tmp_path, "pp", passphrase=b"pw")
    calls: list[int] = []

    def source() -> bytes:
        calls.append(1)
        return b"pw"

    provider = LocalKeyProvider(tmp_path, key_id="pp", passphrase=source)
    for org in ("org-a", "org-b", "org-a"):
        provider.unwrap(provider.wrap(DATA_KEY, organization_id=org), organization_id=org)
    assert calls == [1]
    assert key_info(tmp_path, "pp").newest == 1


def test_passphrase_from_a_file_descriptor() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"from a pipe\n")
    os.close(write_end)
    assert read_passphrase_fd(read_end) == b"from a pipe"
    read_end, write_end = os.pipe()
    os.close(write_end)
    with pytest.raises(InvalidInputError, match="empty"):
        read_passphrase_fd(read_end)


def test_malformed_or_renamed_key_files_are_refused(keys_dir: pathlib.Path) -> None:
    path = keys_dir / "default.key"
    doc = json.loads(path.read_text())
    (keys_dir / "renamed.key").write_text(path.read_text())
    os.chmod(keys_dir / "renamed.key", 0o600)
    with pytest.raises(SecretError, match="key id not its name"):
        LocalKeyProvider(keys_dir, key_id="renamed").wrap(DATA_KEY, organization_id="o")
    del doc["versions"][0]["material"]
    path.write_text(json.dumps(doc))
    with pytest.raises(SecretError, match="malformed version entry"):
        LocalKeyProvider(keys_dir).wrap(DATA_KEY, organization_id="o")
    path.write_text("{not json")
    with pytest.raises(SecretError, match="not valid JSON"):
        list_keys(keys_dir)
