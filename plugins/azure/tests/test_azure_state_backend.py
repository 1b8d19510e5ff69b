"""The state's home through Azure Resource Manager: the official SDKs (azure-identity,
azure-mgmt-resource, azure-mgmt-storage) against the stand-in Resource Manager and Entra ID
(no ARM emulator exists; the stand-in answers the REST calls with the API's shapes), the
container made in Azurite too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure_support import DEMO_SECRET, example
from qengine_azure.credentials import AzureAccess
from qengine_azure.local_arm import LocalArm
from qengine_azure.sandbox import sandbox_azure
from qengine_azure.settings import AzureSettings
from qengine_azure.state_backend import (
    SOFT_DELETE_DAYS,
    default_account,
    ensure_state_backend,
    state_location,
)

from qengine import InfrastructureError, load_plugins
from qengine.secrets.value import SecretValue

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("azurite_binary")]
ACCOUNT = "acmeqestateweu"


@pytest.fixture(scope="module")
def settings() -> Iterator[AzureSettings]:
    with sandbox_azure((ACCOUNT, "otherstate01")) as found:
        yield found


def _access(settings: AzureSettings, document: dict[str, Any] | None = None) -> AzureAccess:
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"}).loader.load(
        document or example()
    )
    return AzureAccess.of(job, lambda name: SecretValue(DEMO_SECRET), settings)  # type: ignore[arg-type]


def _arm(settings: AzureSettings) -> LocalArm:
    assert settings.stand_in is not None
    return settings.stand_in


def test_bootstrap_makes_a_protected_account_once(settings: AzureSettings) -> None:
    access = _access(settings)
    location, changes = ensure_state_backend(access, "cluster-bootstrap")
    assert location.storage_account == ACCOUNT
    assert location.resource_group == "qengine-tfstate-westeurope"
    assert location.key == "cluster-bootstrap.tfstate"
    assert any("created the storage account" in change for change in changes)
    account_id = (
        f"/subscriptions/{access.provider.subscription_id}/resourceGroups/"
        f"{location.resource_group}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}"
    )
    account = _arm(settings).resource(account_id)
    assert account is not None
    assert account["kind"] == "StorageV2"
    assert account["properties"]["minimumTlsVersion"] == "TLS1_2"
    assert account["properties"]["allowBlobPublicAccess"] is False
    service = _arm(settings).resource(f"{account_id}/blobServices/default")
    assert service is not None
    assert service["properties"]["isVersioningEnabled"] is True
    retention = service["properties"]["deleteRetentionPolicy"]
    assert retention == {"enabled": True, "days": SOFT_DELETE_DAYS}
    # The container exists in the blob data plane, where Terraform writes.
    from azure.storage.blob import ContainerClient

    assert settings.ca_file is not None
    container = ContainerClient(
        settings.account_url(ACCOUNT),
        "tfstate",
        credential=access.credential(),  # the job's Storage token, as the engine sends it
        connection_verify=str(settings.ca_file),
    )
    assert container.exists()
    again = ensure_state_backend(access, "cluster-bootstrap")
    assert again == (location, [])


def test_an_existing_account_gets_versioning_and_soft_delete(settings: AzureSettings) -> None:
    document = example()
    document["cluster"]["provider"]["state"] = {
        "storage_account": "otherstate01",
        "resource_group": "rg-existing-state",
    }
    access = _access(settings, document)
    subscription = access.provider.subscription_id
    group = f"/subscriptions/{subscription}/resourceGroups/rg-existing-state"
    account = f"{group}/providers/Microsoft.Storage/storageAccounts/otherstate01"
    arm = _arm(settings)
    arm.put_resource(group, {"id": group, "name": "rg-existing-state", "location": "westeurope"})
    arm.put_resource(
        account, {"id": account, "name": "otherstate01", "kind": "StorageV2", "properties": {}}
    )
    unprotected = {"isVersioningEnabled": False, "deleteRetentionPolicy": {"enabled": False}}
    arm.put_resource(f"{account}/blobServices/default", {"properties": unprotected})
    _, changes = ensure_state_backend(access, "cluster-existing")
    assert not any("created the storage account" in change for change in changes)
    assert any("turned on blob versioning" in change for change in changes)
    service = arm.resource(f"{account}/blobServices/default")
    assert service is not None
    assert service["properties"]["isVersioningEnabled"] is True


def test_a_name_taken_elsewhere_is_an_infrastructure_error_naming_it(
    settings: AzureSettings,
) -> None:
    document = example()
    document["cluster"]["provider"]["state"] = {"storage_account": "takenbysomeone"}
    access = _access(settings, document)
    with pytest.raises(InfrastructureError) as caught:
        ensure_state_backend(access, "cluster-refused")
    message = str(caught.value)
    assert "takenbysomeone" in message
    assert "StorageAccountAlreadyTaken" in message
    assert DEMO_SECRET not in message


def test_the_default_account_name_is_a_valid_storage_account_name() -> None:
    name = default_account("00000000-1111-2222-3333-444444444444", "westeurope")
    assert len(name) == 24
    assert name.isalnum()
    assert name == name.lower()
    assert name != default_account("00000000-1111-2222-3333-444444444444", "northeurope")


def test_state_location_needs_no_request() -> None:
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"}).loader.load(example())
    location = state_location(job.cluster.provider, job.cluster.id)  # type: ignore[union-attr,arg-type]
    assert location.backend_config() == {
        "resource_group_name": "qengine-tfstate-westeurope",
        "storage_account_name": ACCOUNT,
        "container_name": "tfstate",
        "key": "cluster-prod-weu.tfstate",
    }


def test_an_arm_error_is_mapped_with_a_hint(settings: AzureSettings) -> None:
    access = _access(settings)
    broken = AzureAccess(
        identity=access.provider,
        open_secret=access.open_secret,
        settings=AzureSettings(
            arm_endpoint=f"{settings.arm_endpoint}/nowhere",
            authority=settings.authority,
            ca_file=settings.ca_file,
        ),
    )
    with pytest.raises(InfrastructureError) as caught:
        ensure_state_backend(broken, "cluster-broken")
    assert "qengine-tfstate-westeurope" in str(caught.value) or ACCOUNT in str(caught.value)
    assert caught.value.hint is not None
    assert "Contributor" in caught.value.hint
