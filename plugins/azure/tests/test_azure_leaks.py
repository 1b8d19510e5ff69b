"""Leak hunt: an Azure job run in the sandbox (client secret sealed in memory, Storage tokens
handed to Terraform's backend by the run's managed-identity endpoint and sent by the job's
lease; the account's key-made SAS, which only the test's own reads use) leaves neither the
secret, nor a token, nor the SAS, nor the endpoint's secret URL in anything it writes: the
result and its outputs, the events, the SQLite state store, the Terraform state blob,
terraform's command lines (recorded by a wrapper put first on PATH), nor the host's
environment. Terraform's environment holds the endpoint's URL only: no token, no SAS, and not
the client secret. Raw, base64, URL-encoded and JSON-escaped forms are all looked for."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import urllib.parse
from pathlib import Path

import pytest
from azure_support import DEMO_SECRET, example
from qengine_azure.sandbox import sandbox_azure

from qengine import Engine, load_plugins
from qengine.runner import JobStatus, SqliteStateStore

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("azurite_binary")]
ACCOUNT = "acmeqestateweu"


def _forms(secret: str) -> list[str]:
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        urllib.parse.quote(secret, safe=""),
        json.dumps(secret)[1:-1],
    ]


def _wrapper(directory: Path, log: Path) -> Path:
    real = shutil.which("terraform")
    assert real is not None
    script = directory / "terraform"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps({'argv': sys.argv, 'env': dict(os.environ)}) + '\\n')\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return directory


def test_neither_the_secret_nor_a_token_nor_the_sas_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "terraform-calls.jsonl"
    (tmp_path / "bin").mkdir()
    bin_dir = _wrapper(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    events: list[str] = []
    store_path = tmp_path / "store"
    with sandbox_azure((ACCOUNT,)) as settings:
        plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
        engine = Engine(plugins, store=SqliteStateStore(store_path), settings={"azure": settings})
        result = engine.run(
            example(),
            sandbox_secrets={"azure-client-secret": DEMO_SECRET},
            on_event=lambda event: events.append(json.dumps(event.to_json(), default=str)),
        )
        assert result.status is JobStatus.SUCCEEDED, result.error
        assert settings.state_sas is not None
        sas = settings.state_sas(ACCOUNT)
        signature = urllib.parse.parse_qs(sas)["sig"][0]
        from azure.storage.blob import BlobClient

        assert settings.ca_file is not None
        state = (
            BlobClient(
                settings.account_url(ACCOUNT),
                "tfstate",
                "cluster-prod-weu.tfstate",
                credential=sas,
                connection_verify=str(settings.ca_file),
            )
            .download_blob()
            .readall()
            .decode()
        )
        assert settings.stand_in is not None
        tokens = [token for token in settings.stand_in.state.tokens if token.startswith("eyJ")]
    assert tokens, "no Storage token was issued"
    assert '"terraform_data"' in state  # the state really is there
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls, "terraform was not run through the wrapper"
    endpoints = {call["env"]["ARM_MSI_ENDPOINT"] for call in calls}
    assert all("/metadata/identity/oauth2/token" in url for url in endpoints)
    written = {
        "result": json.dumps(result.to_json(), default=str),
        "events": "\n".join(events),
        "store": "".join(
            path.read_bytes().decode("latin-1") for path in store_path.rglob("*") if path.is_file()
        ),
        "state": state,
        "argv": json.dumps([call["argv"] for call in calls]),
        "host environment": json.dumps(dict(os.environ)),
    }
    assert "aks-prod-create-0001" in written["store"]  # the journal really is there
    for where, text in written.items():
        for form in _forms(DEMO_SECRET):
            assert form not in text, f"the client secret leaked into the {where}"
        # Each SAS is signed anew; the signature of the run's is a fresh one, so look for the
        # signature's key material the way it would appear: any sig= of the account's SAS.
        assert "sig=" not in text, f"a SAS leaked into the {where}"
        assert signature not in text
        for token in tokens:
            for form in _forms(token):
                assert form not in text, f"a Storage token leaked into the {where}"
        for url in endpoints:
            assert url not in text, f"the token endpoint's URL leaked into the {where}"
    environments = json.dumps([call["env"] for call in calls])
    assert DEMO_SECRET not in environments
    assert "sig=" not in environments
    assert not any(token in environments for token in tokens)
    assert all("ARM_SAS_TOKEN" not in call["env"] for call in calls)
