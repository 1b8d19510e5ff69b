"""What Google Cloud offers, as the plugin knows it: regions, GKE versions and release
channels, machine disk types and GKE's documented limits.

Kept as data so a check needs no network; preflight confirms the version against the
Container API's ``getServerConfig`` before anything changes.
"""

from __future__ import annotations

REGIONS = frozenset(
    {
        "africa-south1",
        "asia-east1",
        "asia-east2",
        "asia-northeast1",
        "asia-northeast2",
        "asia-northeast3",
        "asia-south1",
        "asia-south2",
        "asia-southeast1",
        "asia-southeast2",
        "australia-southeast1",
        "australia-southeast2",
        "europe-central2",
        "europe-north1",
        "europe-north2",
        "europe-southwest1",
        "europe-west1",
        "europe-west2",
        "europe-west3",
        "europe-west4",
        "europe-west6",
        "europe-west8",
        "europe-west9",
        "europe-west10",
        "europe-west12",
        "me-central1",
        "me-central2",
        "me-west1",
        "northamerica-northeast1",
        "northamerica-northeast2",
        "northamerica-south1",
        "southamerica-east1",
        "southamerica-west1",
        "us-central1",
        "us-east1",
        "us-east4",
        "us-east5",
        "us-south1",
        "us-west1",
        "us-west2",
        "us-west3",
        "us-west4",
    }
)

#: Bucket locations besides the regions: GCS's multi-regions.
MULTI_REGIONS = frozenset({"asia", "eu", "us"})

#: GKE minor versions the plugin's blueprint supports, oldest first (preflight asks GKE which
#: it offers now in the region).
GKE_VERSIONS = ("1.31", "1.32", "1.33", "1.34")

#: The channels of ``release_channel``; ``none`` pins the version (GKE's UNSPECIFIED).
RELEASE_CHANNELS = ("rapid", "regular", "stable", "extended", "none")

#: Boot disk types a GKE node pool accepts.
DISK_TYPES = ("pd-standard", "pd-balanced", "pd-ssd", "hyperdisk-balanced")

#: GKE's limits, as documented for Standard clusters.
MAX_NODES_PER_POOL_ZONE = 1000
MIN_PODS_PER_NODE, MAX_PODS_PER_NODE = 8, 256
MIN_DISK_GB, MAX_DISK_GB = 10, 65536
MAX_AUTHORIZED_NETWORKS = 50
MAX_CLUSTER_NAME = 40
MAX_NODE_POOL_NAME = 40
#: The zones GKE spreads a regional cluster's nodes over when ``zones`` is empty.
DEFAULT_ZONE_COUNT = 3
#: Prefix lengths GKE accepts for each range (the subnet's primary range, the pods' and the
#: services' secondary ranges, the control plane's peering range).
NODES_PREFIX = (8, 29)
PODS_PREFIX = (9, 21)
SERVICES_PREFIX = (16, 27)
CONTROL_PLANE_PREFIX = (28, 28)
#: Addresses Google keeps in every subnet's primary range.
RESERVED_PER_SUBNET = 4
