"""A process holding a target's lease in a PostgreSQL store, driven line by line on stdin.

``python lease_holder.py URL PASSWORD_FILE TARGET OWNER LEASE_SECONDS`` takes the lock, prints
``held TOKEN``, then for each line: ``write STEP`` journals a step (prints ``wrote`` or
``lost``), ``finish`` records the job's status (``finished`` or ``lost``), ``release`` releases
the lock (``released``); end of input closes the store. The tests pause (SIGSTOP), resume and
kill it as a worker machine would be.
"""

from __future__ import annotations

import sys
from pathlib import Path

from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.state import StepRecord, StepState
from qengine.runner.pgstore import LeaseLostError, PostgresStateStore


def main(url: str, password_file: str, target: str, owner: str, lease: str) -> None:
    store = PostgresStateStore(url, password_file=Path(password_file), lease_seconds=float(lease))
    token = CancelToken()
    store.acquire_lock(target, owner, cancel=token)
    print("held", store.fencing_token(owner), flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        try:
            if command == "write":
                record = StepRecord(
                    job_id=owner, step_id=arg, idempotency_key=arg, status=StepState.SUCCEEDED
                )
                store.record_step(record)
                print("wrote", flush=True)
            elif command == "finish":
                store.finish_job(owner, "succeeded")
                print("finished", flush=True)
            elif command == "release":
                store.release_lock(target, owner)
                print("released", flush=True)
            elif command == "cancelled":
                print("cancelled" if token.cancelled else "running", token.reason, flush=True)
        except LeaseLostError:
            print("lost", flush=True)
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:6])
