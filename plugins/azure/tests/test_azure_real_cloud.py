"""The real-Azure tier: off unless QENGINE_TEST_AZURE=1 (deselected by conftest otherwise).

It cannot run on the project's build machines (no Azure access); it is written for users who
have a subscription. Needs, besides ``QENGINE_TEST_AZURE=1``: ``AZURE_TENANT_ID``,
``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET`` (an application with Contributor and Storage Blob
Data Contributor on the subscription), ``AZURE_SUBSCRIPTION_ID`` and optionally
``QENGINE_TEST_AZURE_LOCATION`` (default ``westeurope``).

Everything it creates lives in the resource group ``qengine-test-<random>``, deleted at the
end. It costs a storage account's few requests: no cluster is made (``qengine run`` of
``examples/aks`` against a real subscription does that, with an azurerm provider mirror).
The ACR test needs ``QENGINE_TEST_AZURE_ACR`` too: the name of a registry on which that
application has AcrPush and AcrDelete; it pushes one tiny image (``qengine-test/probe``) with
buildah, looks it up and deletes it.

It has never been run by the project.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure_support import QUICKSTART, example
from qengine_azure.acr import AcrContainerRegistry
from qengine_azure.acr_auth import NULL_USER
from qengine_azure.credentials import AzureAccess
from qengine_azure.preflight import quotas, vm_sizes
from qengine_azure.settings import AzureSettings
from qengine_azure.state_backend import blob_names, ensure_state_backend

from qengine import Engine, load_plugins
from qengine.plugin import BuildRequest, CancelToken
from qengine.runner import MemoryStateStore
from qengine.secrets.value import SecretValue

pytestmark = pytest.mark.real_cloud

RUN = secrets.token_hex(4)
GROUP = f"qengine-test-{RUN}"


@pytest.fixture(scope="module")
def real() -> Iterator[AzureAccess]:
    document = example()
    provider = document["cluster"]["provider"]
    provider["tenant_id"] = os.environ["AZURE_TENANT_ID"]
    provider["client_id"] = os.environ["AZURE_CLIENT_ID"]
    provider["subscription_id"] = os.environ["AZURE_SUBSCRIPTION_ID"]
    provider["location"] = os.environ.get("QENGINE_TEST_AZURE_LOCATION", "westeurope")
    provider["state"] = {"storage_account": f"qetest{RUN}", "resource_group": GROUP}
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"}).loader.load(document)
    secret = os.environ["AZURE_CLIENT_SECRET"]
    access = AzureAccess.of(job, lambda name: SecretValue(secret), AzureSettings())  # type: ignore[arg-type]
    yield access
    from azure.mgmt.resource.resources import ResourceManagementClient

    client = ResourceManagementClient(access.credential(), access.provider.subscription_id)
    if client.resource_groups.check_existence(GROUP):
        client.resource_groups.begin_delete(GROUP).result()


def test_the_state_account_is_made_and_read_with_the_jobs_storage_token(
    real: AzureAccess,
) -> None:
    location, changes = ensure_state_backend(real, "cluster-real")
    assert any("created the storage account" in change for change in changes)
    assert ensure_state_backend(real, "cluster-real") == (location, [])
    assert blob_names(real, location) == {}  # OAuth bearer: Storage Blob Data Contributor


def test_the_region_offers_the_example_sizes_and_reports_quotas(real: AzureAccess) -> None:
    sizes = vm_sizes(real)
    assert "Standard_D4s_v5" in sizes
    assert "cores" in quotas(real)


def test_acr_exchanges_the_entra_token_pushes_finds_and_deletes(tmp_path: Path) -> None:
    name = os.environ.get("QENGINE_TEST_AZURE_ACR")
    if not name:
        pytest.skip("QENGINE_TEST_AZURE_ACR names no registry to push to")
    document = json.loads(QUICKSTART.read_text())
    document["registry"] = {
        "kind": "acr",
        "name": name,
        "repository_prefix": "qengine-test",
        "tenant_id": os.environ["AZURE_TENANT_ID"],
        "client_id": os.environ["AZURE_CLIENT_ID"],
        "client_secret": {"secret": "acr-secret"},
    }
    secrets_ = json.loads((QUICKSTART.parent / "secrets.json").read_text())
    secrets_["acr-secret"] = os.environ["AZURE_CLIENT_SECRET"]
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure,kubernetes"})
    accepted = Engine(plugins, store=MemoryStateStore()).accept(
        document, sandbox_secrets=secrets_, consume=False
    )
    registry = accepted.services.container_registry()
    assert isinstance(registry, AcrContainerRegistry)
    found = registry.credentials()
    assert (found.server, found.username) == (f"{name.lower()}.azurecr.io", NULL_USER)
    assert json.loads(registry.pull_secret_payload())["auths"][found.server]["auth"]
    repository, tag = registry.repository_of("probe"), f"run-{RUN}"
    assert registry.digest_of(repository, tag) is None
    from qengine_buildah.backend import BuildahBackend

    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\n")
    (context / "hello").write_text(f"{RUN}\n")
    image = f"{registry.ensure_repository('probe')}:{tag}"
    request = BuildRequest(context=context, dockerfile=context / "Dockerfile", image=image)
    built = BuildahBackend(temp_base=tmp_path).build_and_push(
        request, found, CancelToken(), lambda line: None
    )
    assert registry.digest_of(repository, tag) == built.digest
    registry.delete_image(repository, tag)
    assert registry.digest_of(repository, tag) is None
