"""The azurerm backend's blob-lease lock, with the real terraform against Azurite.

Another Terraform process holds the cluster's state lock (``terraform console`` keeps the
lease for as long as it runs). A job's apply then fails at once, its step's error a
StateLockedError (the engine reports a step's failure as a failed job, exit code 1), or, with
a lock timeout, waits for the lease and succeeds.
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
from azure_support import DEMO_SECRET, TERRAFORMRC, example
from qengine_azure.sandbox import sandbox_azure
from qengine_azure.settings import AzureSettings

from qengine import Engine, load_plugins
from qengine.runner import JobStatus, MemoryStateStore
from qengine.terraform import StateLockedError, find_terraform

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("azurite_binary")]
ACCOUNT = "acmeqestateweu"
SECRETS = {"azure-client-secret": DEMO_SECRET}


def _engine(settings: AzureSettings) -> Engine:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
    return Engine(plugins, store=MemoryStateStore(), settings={"azure": settings})


def _job(number: int) -> dict[str, object]:
    document = example()
    document["id"] = f"aks-lock-{number:04d}"
    return document


@contextmanager
def _lock_holder(
    tmp: Path, settings: AzureSettings, backend: dict[str, str]
) -> Iterator[subprocess.Popen[str]]:
    """``terraform console`` on the cluster's state: it holds the lease until stdin ends."""
    (tmp / "main.tf.json").write_text(json.dumps({"terraform": {"backend": {"azurerm": {}}}}))
    (tmp / "backend.json").write_text(json.dumps(backend))
    assert settings.state_sas is not None
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "TF_CLI_CONFIG_FILE": str(TERRAFORMRC),
        "ARM_SAS_TOKEN": settings.state_sas(ACCOUNT),
        **settings.terraform_env,
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


def _wait_for_lease(settings: AzureSettings, backend: dict[str, str]) -> None:
    from azure.storage.blob import BlobClient

    assert settings.state_sas is not None
    assert settings.ca_file is not None
    blob = BlobClient(
        settings.account_url(ACCOUNT),
        backend["container_name"],
        backend["key"],
        credential=settings.state_sas(ACCOUNT),
        connection_verify=str(settings.ca_file),
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if blob.get_blob_properties().lease.state == "leased":
            return
        time.sleep(0.1)
    raise AssertionError("the holder never took the lease")


def _backend(outputs: dict[str, str]) -> dict[str, str]:
    return {
        "resource_group_name": outputs["resource_group"],
        "storage_account_name": outputs["storage_account"],
        "container_name": outputs["container"],
        "key": outputs["key"],
    }


def test_a_held_lease_fails_the_apply_at_once(tmp_path: Path) -> None:
    with sandbox_azure((ACCOUNT,)) as settings:
        created = _engine(settings).run(_job(1), sandbox_secrets=SECRETS)
        assert created.status is JobStatus.SUCCEEDED, created.error
        backend = _backend(dict(created.outputs["azure.state-backend"]))
        with _lock_holder(tmp_path, settings, backend):
            _wait_for_lease(settings, backend)
            locked = _engine(settings).run(_job(2), sandbox_secrets=SECRETS)
        assert locked.status is JobStatus.FAILED
        assert locked.error is not None
        assert locked.error.kind == StateLockedError.__name__, locked.error.message
        report = json.dumps(locked.to_json(), default=str)
        assert DEMO_SECRET not in report
        assert settings.state_sas is not None
        assert "sig=" not in report  # no SAS, whole or in part
        # The lease is gone with its holder: the same job now runs.
        again = _engine(settings).run(_job(3), sandbox_secrets=SECRETS)
        assert again.status is JobStatus.SUCCEEDED, again.error


def test_with_a_lock_timeout_the_apply_waits_for_the_lease(tmp_path: Path) -> None:
    with sandbox_azure((ACCOUNT,)) as settings:
        created = _engine(settings).run(_job(1), sandbox_secrets=SECRETS)
        assert created.status is JobStatus.SUCCEEDED, created.error
        backend = _backend(dict(created.outputs["azure.state-backend"]))
        waiting = attrs.evolve(settings, lock_timeout=60.0)
        with _lock_holder(tmp_path, settings, backend) as holder:
            _wait_for_lease(settings, backend)
            assert holder.stdin is not None
            release = threading.Timer(2.0, holder.stdin.close)
            release.start()
            started = time.monotonic()
            result = _engine(waiting).run(_job(2), sandbox_secrets=SECRETS)
            waited = time.monotonic() - started
            release.join()
        assert result.status is JobStatus.SUCCEEDED, result.error
        assert waited >= 1.5  # it waited for the holder, not a timing assertion on speed
