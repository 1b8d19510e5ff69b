"""No secret leaks from the security core: every byte it writes or says is searched.

The control plane's side (seal, sign) and the engine's side (check, open, audit, a subprocess
that prints a secret and fails) run for real; then every file written, everything printed and
every error message is searched for every secret in every encoding the redactor covers. The
whole-engine version of this test (events file, state store, export) belongs to the runner.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pathlib
import shlex
import subprocess
import sys
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from qengine._cli import seal as seal_cli
from qengine._cli import sign as sign_cli
from qengine._errors import QengineError
from qengine.audit import JsonlAuditSink
from qengine.interfaces.audit import AuditRecord
from qengine.secrets.hygiene import child_env, private_tempdir, write_private_file
from qengine.secrets.local_keys import LocalKeyProvider, create_key
from qengine.secrets.redaction import Redactor
from qengine.secrets.unsealing import SealedSecrets


def _encodings(value: str) -> set[bytes]:
    raw = value.encode()
    forms = {
        value,
        json.dumps(value)[1:-1],
        quote(value, safe=""),
        quote_plus(value),
        shlex.quote(value),
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
    }
    return {form.encode() for form in forms}


def _run(module: Any, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_no_secret_in_any_output(
    tmp_path: pathlib.Path,
    job: dict[str, Any],
    plaintext: dict[str, str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    inputs, work = tmp_path / "inputs", tmp_path / "work"
    inputs.mkdir()
    work.mkdir()
    secrets_file = inputs / "secrets.json"
    secrets_file.write_text(json.dumps(plaintext))
    os.chmod(secrets_file, 0o600)
    (work / "job.json").write_text(json.dumps(job))
    keys = work / "keys"
    keys.mkdir()
    create_key(keys)
    messages: list[str] = []

    # Control plane: seal and sign.
    _run(
        seal_cli,
        "seal",
        str(work / "job.json"),
        "--secrets",
        str(secrets_file),
        "--out",
        str(work / "sealed.json"),
        "--keys-dir",
        str(keys),
    )
    _run(sign_cli, "sign", "--generate-key", str(work / "signing"))
    _run(
        sign_cli,
        "sign",
        str(work / "sealed.json"),
        "--key",
        str(work / "signing" / "signing-key.pem"),
        "--out",
        str(work / "signed.json"),
    )
    sealed = json.loads((work / "signed.json").read_text())

    # Engine: check, open what a step uses, audit each opening.
    sink = JsonlAuditSink(work / "audit.jsonl", hmac_key=b"k" * 32)

    def audit(name: str) -> None:
        sink.append(
            AuditRecord(
                time="2026-11-29T02:00:00Z",
                job_id=sealed["id"],
                actor_id="actor-7f3a",
                action="secret.unsealed",
                target=name,
            )
        )

    secrets = SealedSecrets.from_job(sealed, LocalKeyProvider(keys), on_open=audit)
    secrets.check_job(sealed)
    values = [secrets.open(name) for name in sorted(secrets.names)]
    redactor = Redactor(values)

    # A step that fails by printing its secret, through a private temp file and explicit env.
    with private_tempdir(sealed["id"], base=work) as temp:
        write_private_file(temp, "token", values[0].reveal().encode())
        step = subprocess.run(
            [
                sys.executable,
                "-c",
                "import os,sys; t=os.environ['TOKEN']; print('token', t); "
                "sys.exit('failed with ' + t)",
            ],
            env=child_env(extra={"TOKEN": values[1].reveal()}),
            capture_output=True,
        )
    log = b"".join(redactor.redact_lines(step.stdout.splitlines(keepends=True)))
    (work / "step.log").write_bytes(log + redactor.redact(step.stderr))
    sink.append(
        AuditRecord(
            time="2026-11-29T02:00:01Z",
            job_id=sealed["id"],
            actor_id="actor-7f3a",
            action="step.failed",
            outcome="failed",
            details={"error": redactor.redact(step.stderr.decode())},
        )
    )
    sink.close()

    # Refusals: their messages and hints must not carry values either.
    moved = dict(sealed, id="job-9999")
    for attempt in (
        lambda: SealedSecrets.from_job(moved, LocalKeyProvider(keys)).open("git-token"),
        lambda: SealedSecrets.from_job(sealed, LocalKeyProvider(keys)).check_references({}),
    ):
        with pytest.raises(QengineError) as caught:
            attempt()
        messages += [str(caught.value), caught.value.hint, repr(caught.value)]
    messages += [repr(v) for v in values] + [str(v) for v in values] + [repr(secrets)]

    captured = capfd.readouterr()
    haystacks = {str(p): p.read_bytes() for p in work.rglob("*") if p.is_file()}
    haystacks["stdout"] = captured.out.encode()
    haystacks["stderr"] = captured.err.encode()
    haystacks["messages"] = "\n".join(messages).encode()
    assert step.returncode == 1
    assert b"***" in haystacks[str(work / "step.log")]
    for name, value in plaintext.items():
        if name == "unused":
            continue
        for form in _encodings(value):
            leaks = [where for where, data in haystacks.items() if form in data]
            assert leaks == [], f"secret {name} found in {leaks}"
