"""Replay protection under concurrency, with real processes sharing one state directory.

The rule: a signed job runs to its end once. A second submission while the first still runs
is refused as a replay (exit 2, audited); with ``--wait-lock`` it waits for the first to end
and is then refused too, so finished or compensated steps never run again. Only a run whose
process died is resumed, from its journal.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from e2e.support import recorded, run_qengine, start_qengine, stop, wait_for, write_job


def _signed(tmp: Path, steps: str) -> tuple[Path, list[str]]:
    keys = tmp / "keys"
    assert run_qengine(tmp, "sign", "--generate-key", str(keys)).returncode == 0
    spec = write_job(tmp, steps)
    document = json.loads(spec.read_text())
    now = datetime.datetime.now(datetime.UTC)
    document["not_after"] = (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    spec.write_text(json.dumps(document))
    signed = tmp / "signed.json"
    done = run_qengine(
        tmp, "sign", str(spec), "--key", str(keys / "signing-key.pem"), "--out", str(signed)
    )
    assert done.returncode == 0, done.stderr
    trust = ["--state-dir", str(tmp / "state"), "--trust-key", str(keys / "signing-key.pub.pem")]
    return signed, trust


def _last_audit(tmp: Path) -> dict[str, object]:
    record: dict[str, object] = json.loads(
        (tmp / "state" / "audit.jsonl").read_text().splitlines()[-1]
    )
    return record


def _runs_of(tmp: Path, step: str) -> list[str]:
    return [action for action, step_id in recorded(tmp) if step_id == step]


def test_a_second_submission_while_the_first_runs_is_refused(tmp_path: Path) -> None:
    signed, trust = _signed(tmp_path, "a:sleep=3")
    first = start_qengine(tmp_path, "run", str(signed), *trust)
    try:
        wait_for(lambda: bool(recorded(tmp_path)))  # the first is inside its step
        second = run_qengine(tmp_path, "run", str(signed), *trust)
        assert second.returncode == 2, second.stderr
        assert "replay" in second.stderr
        refusal = _last_audit(tmp_path)
        assert refusal["action"] == "job.refused"
        assert refusal["details"] == {"reason": "replayed"}
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
    finally:
        stop(first)
    assert _runs_of(tmp_path, "a").count("run") == 1


def test_a_waiting_submission_never_reruns_compensated_steps(tmp_path: Path) -> None:
    signed, trust = _signed(tmp_path, "a; b:sleep=2 <- a; c:fail <- b")
    first = start_qengine(tmp_path, "run", str(signed), *trust)
    try:
        wait_for(lambda: ("run", "b") in recorded(tmp_path))
        second = start_qengine(tmp_path, "run", str(signed), *trust, "--wait-lock", "60")
        _, err = first.communicate(timeout=60)
        assert first.returncode == 1, err  # c failed; b and a were compensated
        _, err2 = second.communicate(timeout=60)
        assert second.returncode == 2, err2
        assert "replay" in err2
    finally:
        stop(first)
    for step in ("a", "b"):
        assert _runs_of(tmp_path, step).count("run") == 1, recorded(tmp_path)
    assert _runs_of(tmp_path, "c").count("run") == 1
    assert _last_audit(tmp_path)["action"] == "job.refused"
