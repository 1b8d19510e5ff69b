"""The gcs backend's state lock, with the real terraform against a local fake-gcs-server.

Another Terraform process holds the cluster's state lock (``terraform console`` keeps it for
as long as it runs). A job's apply then fails at once, its step's error a StateLockedError
(the job fails with exit code 4, another job holding its target), or, with a lock timeout,
waits for the lock and succeeds.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest
from gcp_support import example
from qengine_gcp.sandbox import SANDBOX_TOKEN, sandbox_gcp
from qengine_gcp.settings import GcpSettings

from qengine import Engine, load_plugins
from qengine.runner import JobStatus, MemoryStateStore
from qengine.terraform import StateLockedError, find_terraform

pytestmark = pytest.mark.slow


def _engine(settings: GcpSettings) -> Engine:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"})
    return Engine(plugins, store=MemoryStateStore(), settings={"gcp": settings})


def _job(number: int) -> dict[str, object]:
    document = example()
    document["id"] = f"gke-lock-{number:04d}"
    return document


@contextmanager
def _lock_holder(
    tmp: Path, settings: GcpSettings, bucket: str, prefix: str
) -> Iterator[subprocess.Popen[str]]:
    """``terraform console`` on the cluster's state: it holds the lock until its stdin ends."""
    (tmp / "main.tf.json").write_text(json.dumps({"terraform": {"backend": {"gcs": {}}}}))
    backend = {
        "bucket": bucket,
        "prefix": prefix,
        "storage_custom_endpoint": f"{settings.storage_endpoint}/storage/v1/",
    }
    (tmp / "backend.json").write_text(json.dumps(backend))
    (tmp / "terraformrc").write_text(
        'provider_installation {\n direct { exclude = ["*/*/*"] }\n}\n'
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "TF_CLI_CONFIG_FILE": str(tmp / "terraformrc"),
        "GOOGLE_OAUTH_ACCESS_TOKEN": SANDBOX_TOKEN,
    }
    terraform = str(find_terraform())
    subprocess.run(
        [terraform, "init", "-input=false", "-backend-config=backend.json"],
        cwd=tmp, env=env, check=True, capture_output=True,
    )  # fmt: skip
    holder = subprocess.Popen(
        [terraform, "console"], cwd=tmp, env=env, stdin=subprocess.PIPE, text=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield holder
    finally:
        if holder.stdin is not None and not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=30)


def _wait_for_lock(settings: GcpSettings, bucket: str, prefix: str) -> None:
    import urllib.request

    url = f"{settings.storage_endpoint}/storage/v1/b/{bucket}/o?prefix={prefix}/"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=5) as reply:
            names = [item["name"] for item in json.loads(reply.read()).get("items", [])]
        if f"{prefix}/default.tflock" in names:
            return
        time.sleep(0.1)
    raise AssertionError("the holder never took the lock")


def test_a_held_lock_fails_the_apply_at_once(tmp_path: Path) -> None:
    with sandbox_gcp() as settings:
        created = _engine(settings).run(_job(1))
        assert created.status is JobStatus.SUCCEEDED, created.error
        state = created.outputs["gcp.state-backend"]
        bucket, prefix = state["bucket"], state["prefix"]
        with _lock_holder(tmp_path, settings, bucket, prefix):
            _wait_for_lock(settings, bucket, prefix)
            locked = _engine(settings).run(_job(2))
        assert locked.status is JobStatus.FAILED
        assert locked.exit_code == 4
        assert locked.error is not None
        assert locked.error.kind == StateLockedError.__name__
        assert f"gs://{bucket}/{prefix}/default.tflock" in locked.error.message
        assert SANDBOX_TOKEN not in json.dumps(locked.to_json(), default=str)
        # The lock is gone with its holder: the same job now runs.
        again = _engine(settings).run(_job(3))
        assert again.status is JobStatus.SUCCEEDED, again.error


def test_with_a_lock_timeout_the_apply_waits_for_the_lock(tmp_path: Path) -> None:
    with sandbox_gcp() as settings:
        created = _engine(settings).run(_job(1))
        assert created.status is JobStatus.SUCCEEDED, created.error
        state = created.outputs["gcp.state-backend"]
        bucket, prefix = state["bucket"], state["prefix"]
        waiting = attrs.evolve(settings, lock_timeout=60.0)
        with _lock_holder(tmp_path, settings, bucket, prefix) as holder:
            _wait_for_lock(settings, bucket, prefix)
            assert holder.stdin is not None
            release = threading.Timer(2.0, holder.stdin.close)
            release.start()
            started = time.monotonic()
            result = _engine(waiting).run(_job(2))
            waited = time.monotonic() - started
            release.join()
        assert result.status is JobStatus.SUCCEEDED, result.error
        assert waited >= 1.5  # it waited for the holder, not a timing assertion on speed


def test_a_lock_taken_before_the_first_state_is_a_lock_error_too() -> None:
    # The first run of a cluster: no state object yet, and another run's lock object already
    # there (written as the gcs backend writes it, if absent). Terraform reports a failure to
    # load the state; the plugin reports it as the lock it is.
    from gcp_support import access_for
    from qengine_gcp.state_backend import storage_client

    with sandbox_gcp() as settings:
        document = _job(1)
        bucket = document["cluster"]["provider"]["state"]["bucket"]  # type: ignore[index]
        client = storage_client(access_for(example(), settings))
        client.create_bucket(bucket)
        lock = client.bucket(bucket).blob("qengine/cluster-prod-europe/default.tflock")
        lock.upload_from_string('{"ID": "held-by-another-run"}', if_generation_match=0)
        result = _engine(settings).run(document)
        assert result.status is JobStatus.FAILED
        assert result.error is not None
        assert result.error.kind == StateLockedError.__name__, result.error.message
        lock.delete()
        assert _engine(settings).run(_job(2)).status is JobStatus.SUCCEEDED
