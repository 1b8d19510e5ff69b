"""Before any change: can the job's credentials get a token, and does GKE offer the job's
Kubernetes version in its region (the Container API's ``getServerConfig``)?"""

from __future__ import annotations

from qengine.plugin import InvalidInputError
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.node_pools import container_client


def check_version_offered(access: GcpAccess, version: str) -> str:
    """The master version GKE would pick for ``version`` in the region (the newest valid one
    of that minor); InvalidInputError when GKE offers none."""
    provider = access.provider
    name = f"projects/{provider.project}/locations/{provider.region}"
    with access.call(f"reading GKE's versions in {provider.region}"):
        config = container_client(access).get_server_config(name=name)
    offered = list(config.valid_master_versions)
    channel = provider.release_channel.upper()
    for entry in config.channels:
        if entry.channel.name == channel:
            offered = list(entry.valid_versions)
    matching = [found for found in offered if found.startswith(f"{version}.")]
    if not matching:
        raise InvalidInputError(
            f"$.cluster.kubernetes_version: GKE offers no {version} in {provider.region}"
            f" on the {provider.release_channel} channel",
            hint=f"Versions offered there: {', '.join(offered[:8]) or 'none'}.",
        )
    return str(matching[0])
