"""The Terraform state's home in the user's subscription: resource group, storage account and
blob container, made if missing, through Azure Resource Manager.

The account is made for state: StorageV2, zone-redundant, HTTPS and TLS 1.2 only, no public
blob access, blob versioning on, soft delete of blobs and containers for 30 days (a state
overwritten or deleted by mistake can be brought back). An account that exists already is
used as it is, and its blob service is given versioning and soft delete if it lacks them.

Terraform's ``azurerm`` backend then keeps the state as the blob ``<cluster id>.tfstate`` in
the container and locks it with a blob lease, with Entra tokens for Storage from the run's
token endpoint (:mod:`qengine_azure.token_endpoint`). The engine's own reads and writes of
the container (the job's lease, whether the state holds resources) send the job's Storage
token (OAuth bearer, from its azure-identity credential, which renews it): no SAS, no
account key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import InfrastructureError
from qengine_azure.credentials import AzureAccess
from qengine_azure.spec import AzureProvider

if TYPE_CHECKING:
    from azure.mgmt.storage import StorageManagementClient
    from azure.storage.blob import BlobClient

#: Days a deleted or overwritten state blob (and a deleted container) can be restored.
SOFT_DELETE_DAYS = 30


@attrs.frozen(kw_only=True)
class StateLocation:
    """Where one cluster's state is: the backend settings of Terraform's ``azurerm``."""

    resource_group: str
    storage_account: str
    container: str
    key: str

    def backend_config(self) -> dict[str, str]:
        """The azurerm backend's non-secret settings."""
        return {
            "resource_group_name": self.resource_group,
            "storage_account_name": self.storage_account,
            "container_name": self.container,
            "key": self.key,
        }


def default_account(subscription_id: str, location: str) -> str:
    """The state account's default name: ``qestate`` and 17 hex digits of the subscription
    and location (a storage account name is global in Azure, at most 24 characters)."""
    digest = hashlib.sha256(f"{subscription_id}/{location}".encode()).hexdigest()
    return f"qestate{digest[:17]}"


def default_group(location: str) -> str:
    """The state's default resource group, apart from the cluster's: deleting the cluster's
    group never takes its state with it."""
    return f"qengine-tfstate-{location}"


def state_location(section: AzureProvider, cluster_id: str) -> StateLocation:
    """The state's location for the cluster (no request)."""
    state = section.state
    return StateLocation(
        resource_group=state.resource_group or default_group(section.location),
        storage_account=state.storage_account
        or default_account(section.subscription_id, section.location),
        container=state.container,
        key=f"{cluster_id}.tfstate",
    )


def storage_client(access: AzureAccess) -> StorageManagementClient:
    """The job's Storage management client."""
    from azure.mgmt.storage import StorageManagementClient

    return StorageManagementClient(
        access.credential(),
        access.provider.subscription_id,
        base_url=access.settings.arm_endpoint,
        credential_scopes=[access.settings.arm_scope],
        **access.client_options(),
    )


def ensure_state_backend(access: AzureAccess, cluster_id: str) -> tuple[StateLocation, list[str]]:
    """Make what is missing of the state's home; returns it and what was made or changed."""
    from azure.core.exceptions import HttpResponseError

    location = state_location(access.provider, cluster_id)
    try:
        changes = _ensure_group(access, location.resource_group)
        storage = storage_client(access)
        changes += _ensure_account(access, storage, location)
        changes += _ensure_protection(storage, location)
        changes += _ensure_container(storage, location)
    except HttpResponseError as exc:
        code = exc.error.code if exc.error is not None else exc.status_code
        raise InfrastructureError(
            f"Azure refused to prepare the Terraform state account "
            f"{location.storage_account}: {code}: {exc.message}",
            hint="The job's application needs Contributor on the state's resource group (or "
            "Storage Account Contributor on an existing account).",
        ) from exc
    return location, changes


def _ensure_group(access: AzureAccess, name: str) -> list[str]:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.resource.resources import ResourceManagementClient

    client = ResourceManagementClient(
        access.credential(),
        access.provider.subscription_id,
        base_url=access.settings.arm_endpoint,
        credential_scopes=[access.settings.arm_scope],
        **access.client_options(),
    )
    try:
        client.resource_groups.get(name)
        return []
    except ResourceNotFoundError:
        pass
    section = access.provider
    client.resource_groups.create_or_update(
        name, {"location": section.location, "tags": dict(section.tags)}
    )
    return [f"created the resource group {name} in {section.location}"]


def _ensure_account(
    access: AzureAccess, storage: StorageManagementClient, location: StateLocation
) -> list[str]:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.storage import models

    try:
        storage.storage_accounts.get_properties(location.resource_group, location.storage_account)
        return []
    except ResourceNotFoundError:
        pass
    section = access.provider
    parameters = models.StorageAccountCreateParameters(
        {
            "sku": {"name": "Standard_ZRS"},
            "kind": "StorageV2",
            "location": section.location,
            "tags": dict(section.tags),
            "properties": {
                "supportsHttpsTrafficOnly": True,
                "minimumTlsVersion": "TLS1_2",
                "allowBlobPublicAccess": False,
            },
        }
    )
    storage.storage_accounts.begin_create(
        location.resource_group, location.storage_account, parameters
    ).result()
    return [f"created the storage account {location.storage_account} (StorageV2, ZRS, TLS 1.2)"]


def _ensure_protection(storage: StorageManagementClient, location: StateLocation) -> list[str]:
    from azure.mgmt.storage import models

    current = storage.blob_services.get_service_properties(
        location.resource_group, location.storage_account
    )
    retention = current.delete_retention_policy
    if current.is_versioning_enabled and retention is not None and retention.enabled:
        return []
    policy = {"enabled": True, "days": SOFT_DELETE_DAYS}
    storage.blob_services.set_service_properties(
        location.resource_group,
        location.storage_account,
        models.BlobServiceProperties(
            {
                "properties": {
                    "isVersioningEnabled": True,
                    "deleteRetentionPolicy": policy,
                    "containerDeleteRetentionPolicy": policy,
                }
            }
        ),
    )
    return [
        f"turned on blob versioning and {SOFT_DELETE_DAYS}-day soft delete on "
        f"{location.storage_account}"
    ]


def _ensure_container(storage: StorageManagementClient, location: StateLocation) -> list[str]:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.storage import models

    group, account = location.resource_group, location.storage_account
    try:
        storage.blob_containers.get(group, account, location.container)
        return []
    except ResourceNotFoundError:
        pass
    storage.blob_containers.create(
        group,
        account,
        location.container,
        models.BlobContainer({"properties": {"publicAccess": "None"}}),
    )
    return [f"created the blob container {location.container} in {account}"]


def state_blob(access: AzureAccess, location: StateLocation, name: str) -> BlobClient:
    """A client of the blob ``name`` in the state's container, sending the job's Storage
    tokens (the identity needs Storage Blob Data Contributor on the account)."""
    from azure.storage.blob import BlobClient

    return BlobClient(
        access.settings.account_url(location.storage_account),
        location.container,
        name,
        credential=access.credential(),
        **access.client_options(),
    )


def blob_names(access: AzureAccess, location: StateLocation) -> Mapping[str, int]:
    """The blobs of the state's container and their sizes (what a test or a leak hunt
    reads)."""
    from azure.storage.blob import ContainerClient

    client = ContainerClient(
        access.settings.account_url(location.storage_account),
        location.container,
        credential=access.credential(),
        **access.client_options(),
    )
    return {blob.name: blob.size for blob in client.list_blobs()}


def holds_resources(access: AzureAccess, location: StateLocation) -> bool:
    """Whether the cluster's state blob exists and records any resource (a cluster made by an
    earlier job), as opposed to none or an empty state (a first create, or one undone)."""
    import json

    from azure.core.exceptions import ResourceNotFoundError

    blob = state_blob(access, location, location.key)
    try:
        body = blob.download_blob().readall()
    except ResourceNotFoundError:
        return False
    try:
        state = json.loads(body)
    except ValueError:
        return True  # unreadable: assume there is something to keep
    return bool(isinstance(state, dict) and state.get("resources"))
