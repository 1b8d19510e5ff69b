"""A sealed section that cannot be opened is refused before any step runs (exit 2, audited):
wrong job, wrong organization, tampered data key or ciphertext, unknown version or provider.

Real ``qengine keys``, ``seal`` and ``run`` processes; the test plugin's steps record what ran.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2e.support import recorded, run_qengine, write_job

Edit = Callable[[dict[str, Any]], None]
SECRETS = {"db-password": "pg-s3cr3t-value", "api-token": "tok_0123456789abcdef"}


def _flip(text: str) -> str:
    middle = len(text) // 2
    return text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]


def _data_key(field: str, value: object) -> Edit:
    def edit(job: dict[str, Any]) -> None:
        job["secrets"]["data_key"][field] = value

    return edit


def _tamper_data_key(job: dict[str, Any]) -> None:
    job["secrets"]["data_key"]["ciphertext"] = _flip(job["secrets"]["data_key"]["ciphertext"])


def _tamper_secret(job: dict[str, Any]) -> None:
    job["secrets"]["sealed"]["api-token"] = _flip(job["secrets"]["sealed"]["api-token"])


def _other_job(job: dict[str, Any]) -> None:
    job["id"] = "job-2"


def _other_org(job: dict[str, Any]) -> None:
    job["organization"]["id"] = "org-2"


CASES: dict[str, Edit] = {
    "wrong-job": _other_job,
    "wrong-organization": _other_org,
    "tampered-data-key": _tamper_data_key,
    "tampered-ciphertext": _tamper_secret,
    "unknown-version": _data_key("version", 99),
    "unknown-provider": _data_key("provider", "nowhere-kms"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_unopenable_sealed_section_is_refused_before_any_step(tmp_path: Path, case: str) -> None:
    state = tmp_path / "state"
    assert run_qengine(tmp_path, "keys", "create", "--state-dir", str(state)).returncode == 0
    spec = write_job(tmp_path, "a", leak=[{"secret": name} for name in SECRETS])
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps(SECRETS))
    os.chmod(secrets_file, 0o600)
    sealed = tmp_path / "sealed.json"
    argv = ["seal", str(spec), "--secrets", str(secrets_file), "--out", str(sealed)]
    done = run_qengine(tmp_path, *argv, "--state-dir", str(state))
    assert done.returncode == 0, done.stderr
    job = json.loads(sealed.read_text())
    CASES[case](job)
    sealed.write_text(json.dumps(job))

    refused = run_qengine(tmp_path, "run", str(sealed), "--state-dir", str(state))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert recorded(tmp_path) == [], "no step may run"
    for value in SECRETS.values():
        assert value not in refused.stderr
    record = json.loads((state / "audit.jsonl").read_text().splitlines()[-1])
    assert record["action"] == "job.refused"
    assert record["details"] == {"reason": "sealed"}
