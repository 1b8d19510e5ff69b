"""An infrastructure job's lease beside its state in the storage account (Azurite, which
honours ``If-None-Match: *`` and ``If-Match``): engines with different state stores do not run
jobs on one cluster at once; the lease is taken once the state step made the container,
refused to a second engine naming its holder (exit code 4), and released. The engine reaches
the blob with the job's Storage tokens (OAuth bearer; Azurite in its OAuth mode checks each
token's audience and expiry), never a SAS: the engines here run without the sandbox's SAS
maker, and tokens live three seconds in the first test, so the renewals that keep the lease
past them send tokens obtained later. The tests' own reads use a key-made SAS."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import attrs
import pytest
from azure_support import DEMO_SECRET, example
from qengine_azure.lease import lease_blob
from qengine_azure.local_arm import STORAGE_SCOPE
from qengine_azure.sandbox import sandbox_azure
from qengine_azure.settings import AzureSettings

from qengine import Engine, Event, load_plugins
from qengine.runner import JobStatus, MemoryStateStore

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("azurite_binary")]
ACCOUNT = "acmeqestateweu"
SECRETS = {"azure-client-secret": DEMO_SECRET}


def _engine(settings: AzureSettings) -> Engine:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
    return Engine(plugins, store=MemoryStateStore(), settings={"azure": settings})


def _job(job_id: str) -> dict[str, Any]:
    document = example()
    document["id"] = job_id
    document["cluster"]["addons"] = {"manage": False}  # the lease, not the add-on stack
    return document


def _blob(settings: AzureSettings) -> Any:
    from azure.storage.blob import BlobClient

    assert settings.state_sas is not None
    return BlobClient(
        settings.account_url(ACCOUNT),
        "tfstate",
        lease_blob("cluster-prod-weu"),
        credential=settings.state_sas(ACCOUNT),
        connection_verify=str(settings.ca_file),
    )


def _lease(settings: AzureSettings) -> dict[str, Any] | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        found: dict[str, Any] = json.loads(_blob(settings).download_blob().readall())
    except ResourceNotFoundError:
        return None
    return found


def test_the_lease_is_held_while_the_job_runs_and_refuses_a_second_engine() -> None:
    with sandbox_azure((ACCOUNT,)) as settings:
        assert settings.stand_in is not None
        settings.stand_in.token_seconds = 3
        engine_settings = attrs.evolve(settings, job_lease_seconds=3.0, state_sas=None)
        seen: dict[str, Any] = {}
        release, holding = threading.Event(), threading.Event()

        def hold(event: Event) -> None:
            if event.type.value == "step.started" and event.step_id:
                seen.setdefault(event.step_id, _lease(settings))
            if event.type.value == "step.finished" and event.step_id == "azure.state-backend":
                holding.set()
                release.wait(60)

        out: dict[str, Any] = {}

        def first() -> None:
            out["r"] = _engine(engine_settings).run(
                _job("long"), on_event=hold, sandbox_secrets=SECRETS
            )

        thread = threading.Thread(target=first)
        thread.start()
        assert holding.wait(120)
        time.sleep(4)  # past the 3 s lease and token: only renewals, with new tokens, keep it

        refused = _engine(engine_settings).run(_job("other"), sandbox_secrets=SECRETS)

        release.set()
        thread.join(timeout=120)
        assert refused.status is JobStatus.FAILED
        assert refused.exit_code == 4
        assert refused.error is not None
        assert "job long (pid" in refused.error.message
        assert lease_blob("cluster-prod-weu") in refused.error.message
        assert out["r"].status is JobStatus.SUCCEEDED, out["r"].error
        assert seen["azure.preflight"] is None  # nothing asked of Azure before the preflight
        applying = seen["azure.apply"]
        assert applying is not None
        assert applying["holder"].startswith("job long (pid ")
        assert _lease(settings) is None  # released at the end
        report = json.dumps(refused.to_json(), default=str)
        assert DEMO_SECRET not in report
        assert "sig=" not in report
        scopes = [r.scope for r in settings.stand_in.state.requests]
        assert scopes.count(STORAGE_SCOPE) >= 2  # renewed while the job ran


def test_a_lapsed_lease_is_taken_over_and_a_stale_write_is_refused() -> None:
    """The store's conditions on Azurite: a lease whose holder stopped renewing is taken by
    the next job; a write at an old ETag, or a create over an existing blob, is refused."""
    from qengine_azure.credentials import AzureAccess
    from qengine_azure.lease import BlobLeaseStore

    from qengine.secrets.value import SecretValue

    with sandbox_azure((ACCOUNT,)) as sandbox:
        settings = attrs.evolve(sandbox, state_sas=None)  # the engine's own way only
        created = _engine(settings).run(_job("first"), sandbox_secrets=SECRETS)
        assert created.status is JobStatus.SUCCEEDED, created.error
        plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
        job = plugins.loader.load(_job("x"))
        access = AzureAccess.of(job, lambda name: SecretValue(SECRETS[name]), settings)  # type: ignore[arg-type]
        store = BlobLeaseStore(access, "cluster-prod-weu")
        assert store.prepare()
        assert store.read() is None
        stale = {"job": "gone", "holder": "job gone (pid 1 on elsewhere)", "seconds": 3.0}
        first = store.create(json.dumps({**stale, "renewed_at": 0}).encode())
        assert first is not None
        assert store.create(b"{}") is None  # If-None-Match: * over an existing blob
        second = store.replace(json.dumps({**stale, "renewed_at": 1}).encode(), first)
        assert second is not None
        assert store.replace(b"{}", first) is None  # If-Match at an old ETag
        store.delete(first)  # not at that ETag any more: left alone
        assert store.read() is not None

        taken = _engine(settings).run(_job("next"), sandbox_secrets=SECRETS)

        assert taken.status is JobStatus.SUCCEEDED, taken.error
        assert _lease(sandbox) is None
