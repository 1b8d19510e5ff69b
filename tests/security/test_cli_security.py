"""The keys, seal, sign and audit commands, called through their own argparse parsers."""

from __future__ import annotations

import argparse
import json
import os
import pathlib
from typing import Any

import pytest

from qengine._cli import audit as audit_cli
from qengine._cli import keys as keys_cli
from qengine._cli import seal as seal_cli
from qengine._cli import sign as sign_cli
from qengine._errors import InvalidInputError, SecretError
from qengine.audit import JsonlAuditSink, default_checkpoint_path
from qengine.interfaces.audit import AuditRecord
from qengine.secrets.local_keys import LocalKeyProvider
from qengine.secrets.unsealing import SealedSecrets


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="qengine")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (keys_cli, seal_cli, sign_cli, audit_cli):
        module.add_parser(commands)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def _write(path: pathlib.Path, value: Any, mode: int = 0o600) -> pathlib.Path:
    path.write_text(json.dumps(value))
    os.chmod(path, mode)
    return path


def test_keys_create_list_rotate(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "state")
    assert _run("keys", "create", "--state-dir", state) == 0
    assert _run("keys", "rotate", "--state-dir", state) == 0
    capsys.readouterr()
    assert _run("keys", "list", "--state-dir", state) == 0
    out = capsys.readouterr().out
    assert out.startswith("default\trandom\tversions 1,2\tnewest v2")
    assert (tmp_path / "state" / "keys" / "default.key").exists()


def test_keys_with_a_passphrase_from_a_descriptor(tmp_path: pathlib.Path) -> None:
    def fd_with(data: bytes) -> str:
        read_end, write_end = os.pipe()
        os.write(write_end, data)
        os.close(write_end)
        return str(read_end)

    keys = str(tmp_path / "keys")
    assert _run("keys", "create", "--keys-dir", keys, "--passphrase-fd", fd_with(b"pw\n")) == 0
    assert _run("keys", "rotate", "--keys-dir", keys, "--passphrase-fd", fd_with(b"pw")) == 0
    with pytest.raises(SecretError, match="wrong passphrase"):
        _run("keys", "rotate", "--keys-dir", keys, "--passphrase-fd", fd_with(b"nope"))


def test_seal_then_sign_then_rewrap(
    tmp_path: pathlib.Path,
    job: dict[str, Any],
    plaintext: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = str(tmp_path / "state")
    _run("keys", "create", "--state-dir", state)
    spec = _write(tmp_path / "job.json", job, 0o644)
    secrets_file = _write(tmp_path / "secrets.json", plaintext)
    sealed_path = tmp_path / "sealed.json"
    assert (
        _run(
            "seal",
            str(spec),
            "--secrets",
            str(secrets_file),
            "--out",
            str(sealed_path),
            "--state-dir",
            state,
        )
        == 0
    )
    sealed = json.loads(sealed_path.read_text())
    assert all(value not in sealed_path.read_text() for value in plaintext.values())
    provider = LocalKeyProvider(tmp_path / "state" / "keys")
    assert (
        SealedSecrets.from_job(sealed, provider).open("git-token").reveal()
        == plaintext["git-token"]
    )

    assert _run("sign", "--generate-key", str(tmp_path / "signing")) == 0
    signed_path = tmp_path / "signed.json"
    key = str(tmp_path / "signing" / "signing-key.pem")
    assert _run("sign", str(sealed_path), "--key", key, "--out", str(signed_path)) == 0
    assert json.loads(signed_path.read_text())["signature"]["alg"] == "ed25519"

    _run("keys", "rotate", "--state-dir", state)
    capsys.readouterr()
    rewrapped_path = tmp_path / "rewrapped.json"
    assert (
        _run(
            "seal", str(signed_path), "--rewrap", "--out", str(rewrapped_path), "--state-dir", state
        )
        == 0
    )
    assert "sign the output again" in capsys.readouterr().err
    rewrapped = json.loads(rewrapped_path.read_text())
    assert rewrapped["secrets"]["data_key"]["version"] == 2
    assert "signature" not in rewrapped


def test_seal_refuses_missing_secrets_non_objects_and_exposed_secret_files(
    tmp_path: pathlib.Path, job: dict[str, Any], plaintext: dict[str, str]
) -> None:
    state = str(tmp_path / "state")
    _run("keys", "create", "--state-dir", state)
    spec = _write(tmp_path / "job.json", job)
    out = str(tmp_path / "out.json")
    lacking = _write(tmp_path / "lacking.json", {"git-token": "x"})
    with pytest.raises(InvalidInputError, match="lacks 2") as caught:
        _run("seal", str(spec), "--secrets", str(lacking), "--out", out, "--state-dir", state)
    assert caught.value.exit_code == 2
    exposed = _write(tmp_path / "exposed.json", plaintext, 0o644)
    with pytest.raises(InvalidInputError, match="group or others"):
        _run("seal", str(spec), "--secrets", str(exposed), "--out", out, "--state-dir", state)
    not_object = _write(tmp_path / "list.json", [job])
    with pytest.raises(InvalidInputError, match="must hold a JSON object"):
        _run("seal", str(not_object), "--secrets", str(lacking), "--out", out, "--state-dir", state)
    duplicate = tmp_path / "dup.json"
    duplicate.write_text('{"id": "a", "id": "b"}')
    with pytest.raises(InvalidInputError, match="duplicate key"):
        _run("seal", str(duplicate), "--secrets", str(lacking), "--out", out, "--state-dir", state)
    assert not pathlib.Path(out).exists()


def test_sign_refuses_missing_arguments(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidInputError, match="needs SPEC"):
        _run("sign", str(tmp_path / "job.json"))


def test_audit_verify_exit_codes(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(b"a-32-byte-audit-hmac-key-for-tests\n")
    os.chmod(key_file, 0o600)
    log = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(log, hmac_key=key_file.read_bytes().strip())
    for index in range(3):
        sink.append(
            AuditRecord(
                time="2026-11-29T02:00:00Z", job_id="j", actor_id="a", action=f"step-{index}"
            )
        )
    sink.close()
    args = ["audit", "verify", str(log), "--hmac-key-file", str(key_file)]
    checkpoint = ["--checkpoint", str(default_checkpoint_path(log))]
    assert _run(*args, *checkpoint) == 0
    assert "ok, 3 record(s) verified" in capsys.readouterr().out
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:2]))
    assert _run(*args) == 0
    assert _run(*args, *checkpoint) == 1
    assert "record 3 (line 3) is bad" in capsys.readouterr().err
    os.chmod(key_file, 0o644)
    with pytest.raises(SecretError):
        _run(*args)


def test_sign_refuses_a_job_without_a_valid_not_after(
    tmp_path: pathlib.Path, job: dict[str, Any]
) -> None:
    _run("sign", "--generate-key", str(tmp_path / "signing"))
    key = str(tmp_path / "signing" / "signing-key.pem")
    del job["not_after"]
    spec = _write(tmp_path / "job.json", job)
    with pytest.raises(InvalidInputError, match="no not_after"):
        _run("sign", str(spec), "--key", key, "--out", str(tmp_path / "out.json"))
    spec = _write(tmp_path / "job.json", dict(job, not_after="tomorrow"))
    with pytest.raises(InvalidInputError, match="RFC 3339"):
        _run("sign", str(spec), "--key", key, "--out", str(tmp_path / "out.json"))
