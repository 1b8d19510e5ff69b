"""Every refused job exits 2 and leaves a ``job.refused`` audit record, whatever the reason.

Real ``qengine sign`` and ``qengine run --trust-key`` processes; after each refusal the audit
log's last record is read back, and nothing of the job ran.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2e.support import recorded, run_qengine, write_job

from qengine.secrets.signing import sign_job
from qengine.secrets.signing_keys import load_private_key

Edit = Callable[[dict[str, Any]], None]


def _stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _window(document: dict[str, Any]) -> None:
    document["created_at"] = _stamp(_now() - datetime.timedelta(minutes=10))
    document["not_after"] = _stamp(_now() + datetime.timedelta(hours=1))


def _set(path: str, value: object) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        node = document
        *parents, last = path.split(".")
        for name in parents:
            node = node[name]
        node[last] = value

    return edit


# (id, edit before signing, edit after signing, expected reason)
CASES: list[tuple[str, Edit | None, Edit | None, str]] = [
    ("unsigned", None, None, "unsigned"),
    ("tampered", None, _set("environment.name", "other"), "tampered"),
    ("expired", _set("not_after", "2020-01-01T00:00:00Z"), None, "expired"),
    ("far-future-not-after", _set("not_after", "9999-12-31T23:59:59Z"), None, "malformed"),
    (
        "not-after-past-9999-by-offset",
        _set("not_after", "9999-12-31T23:59:59-05:00"),
        None,
        "malformed",
    ),
    ("created-in-the-future", _set("created_at", "2999-01-01T00:00:00Z"), None, "not_yet_valid"),
    ("integer-beyond-2^53", None, _set("organization.extra", 2**60), "malformed"),
    ("huge-key-id", None, _set("signature.key_id", "k" * 200_000), "malformed"),
    ("e-mail-as-actor", _set("actor.id", "someone@example.com"), None, "invalid_spec"),
    ("e-mail-as-actor-unsigned", _set("actor.id", "someone@example.com"), None, "unsigned"),
    ("invalid-spec-signed", _set("environment.bogus", 1), None, "invalid_spec"),
    ("replayed", None, None, "replayed"),
]


@pytest.mark.parametrize(
    ("before", "after", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_refused_job_is_audited_and_exits_2(
    tmp_path: Path, before: Edit | None, after: Edit | None, reason: str
) -> None:
    keys = tmp_path / "keys"
    assert run_qengine(tmp_path, "sign", "--generate-key", str(keys)).returncode == 0
    spec = write_job(tmp_path, "a")
    document = json.loads(spec.read_text())
    _window(document)
    if before is not None:
        before(document)
    spec.write_text(json.dumps(document))
    unsigned = reason == "unsigned"
    job = spec
    if not unsigned:
        job = tmp_path / "signed.json"
        argv = ["sign", str(spec), "--key", str(keys / "signing-key.pem"), "--out", str(job)]
        done = run_qengine(tmp_path, *argv)
        if done.returncode != 0:  # `qengine sign` refuses it: a control plane of its own signs
            private = load_private_key(keys / "signing-key.pem")
            job.write_text(json.dumps(sign_job(document, private)))
        if after is not None:
            signed = json.loads(job.read_text())
            after(signed)
            job.write_text(json.dumps(signed))
    state = tmp_path / "state"
    trust = ["--state-dir", str(state), "--trust-key", str(keys / "signing-key.pub.pem")]
    if reason == "replayed":
        assert run_qengine(tmp_path, "run", str(job), *trust).returncode == 0
        (tmp_path / "job-1.log").unlink()
    refused = run_qengine(tmp_path, "run", str(job), *trust)
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    assert "internal error" not in refused.stderr.lower()
    assert len(refused.stderr) < 4000
    assert "someone@example.com" not in refused.stderr
    assert recorded(tmp_path) == []
    last = json.loads((state / "audit.jsonl").read_text().splitlines()[-1])
    assert last["action"] == "job.refused"
    assert last["outcome"] == "refused"
    if reason:
        assert last["details"]["reason"] == reason
    assert "@" not in json.dumps(last)
