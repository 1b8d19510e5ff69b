"""Pushing small test images straight through the Distribution API."""

from __future__ import annotations

import hashlib
import json

from qengine_oci.client import DistributionClient

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

USER = "pusher"
PASSWORD = "registry-Pa55word-oci-test"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(client: DistributionClient, repository: str, data: bytes) -> str:
    scope = f"repository:{repository}:pull,push"
    started = client.request("POST", f"/v2/{repository}/blobs/uploads/", scope=scope)
    assert started.status == 202, started.status
    location = started.headers["location"]
    path = location.split("://", 1)[-1].split("/", 1)[-1]
    separator = "&" if "?" in path else "?"
    done = client.request(
        "PUT",
        f"/{path}{separator}digest={digest(data)}",
        scope=scope,
        headers={"Content-Type": "application/octet-stream"},
        body=data,
    )
    assert done.status == 201, done.status
    return digest(data)


def push_manifest(
    client: DistributionClient, repository: str, reference: str, manifest: dict[str, object]
) -> str:
    body = json.dumps(manifest).encode()
    media = str(manifest["mediaType"])
    response = client.request(
        "PUT",
        f"/v2/{repository}/manifests/{reference}",
        scope=f"repository:{repository}:pull,push",
        headers={"Content-Type": media},
        body=body,
    )
    assert response.status == 201, (response.status, response.body)
    return digest(body)


def push_image(
    client: DistributionClient, repository: str, tag: str, *, media_type: str = OCI_MANIFEST
) -> str:
    """A one-layer image (the layer a tiny gzip-less tar); its manifest digest."""
    layer = b"\0" * 1024  # an empty tar archive: two zero blocks
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
        }
    ).encode()
    docker = media_type == DOCKER_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json"
            if docker
            else "application/vnd.oci.image.config.v1+json",
            "digest": push_blob(client, repository, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar"
                if docker
                else "application/vnd.oci.image.layer.v1.tar",
                "digest": push_blob(client, repository, layer),
                "size": len(layer),
            }
        ],
    }
    return push_manifest(client, repository, tag, manifest)


def push_index(client: DistributionClient, repository: str, tag: str) -> str:
    """An OCI index over one image; its digest."""
    image = push_image(client, repository, f"{tag}-amd64")
    size = len(
        client.request(
            "GET",
            f"/v2/{repository}/manifests/{image}",
            scope=f"repository:{repository}:pull",
            headers={"Accept": OCI_MANIFEST},
        ).body
    )
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": image,
                "size": size,
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ],
    }
    return push_manifest(client, repository, tag, index)
