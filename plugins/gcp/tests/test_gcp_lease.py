"""An infrastructure job's lease beside its state in the GCS bucket (fake-gcs-server, which
honours ``ifGenerationMatch``): engines with different state stores do not run jobs on one
cluster at once; the lease is taken once the state step made the bucket, and released."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import attrs
import pytest
from gcp_support import example
from qengine_gcp.lease import lease_key
from qengine_gcp.sandbox import sandbox_gcp
from qengine_gcp.settings import GcpSettings

from qengine import Engine, Event, load_plugins
from qengine.runner import JobStatus, MemoryStateStore

pytestmark = pytest.mark.slow


def _engine(settings: GcpSettings) -> Engine:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"})
    return Engine(plugins, store=MemoryStateStore(), settings={"gcp": settings})


def _job(job_id: str) -> dict[str, Any]:
    document = example()
    document["id"] = job_id
    return document


def _lease(settings: GcpSettings, bucket: str) -> dict[str, Any] | None:
    key = lease_key("cluster-prod-europe").replace("/", "%2F")
    url = f"{settings.storage_endpoint}/storage/v1/b/{bucket}/o/{key}?alt=media"
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            found: dict[str, Any] = json.loads(reply.read())
            return found
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def test_the_lease_is_held_while_the_job_runs_and_refuses_a_second_engine() -> None:
    with sandbox_gcp() as settings:
        settings = attrs.evolve(settings, job_lease_seconds=3.0)
        bucket = _job("x")["cluster"]["provider"]["state"]["bucket"]
        seen: dict[str, Any] = {}
        release, holding = threading.Event(), threading.Event()

        def hold(event: Event) -> None:
            if event.type.value == "step.started" and event.step_id:
                seen.setdefault(event.step_id, _lease(settings, bucket))
            if event.type.value == "step.finished" and event.step_id == "gcp.state-backend":
                holding.set()
                release.wait(60)

        out: dict[str, Any] = {}
        first = threading.Thread(
            target=lambda: out.setdefault("r", _engine(settings).run(_job("long"), on_event=hold))
        )
        first.start()
        assert holding.wait(120)
        time.sleep(4)  # past the 3 s lease: only renewals keep it

        refused = _engine(settings).run(_job("other"))

        release.set()
        first.join(timeout=120)
        assert refused.status is JobStatus.FAILED
        assert refused.exit_code == 4
        assert refused.error is not None
        assert "job long (pid" in refused.error.message
        assert out["r"].status is JobStatus.SUCCEEDED, out["r"].error
        assert seen["gcp.preflight"] is None  # nothing asked of Google before the preflight
        applying = seen["gcp.apply"]
        assert applying is not None
        assert applying["holder"].startswith("job long (pid ")
        assert _lease(settings, bucket) is None  # released at the end
