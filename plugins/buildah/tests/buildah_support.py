"""Reading a pushed image back from the registry: manifest, config and layer contents."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

from qengine_oci.client import MANIFEST_TYPES, DistributionClient

from qengine.testing.registry import LocalRegistry

USER = "builder"
PASSWORD = "registry-Pa55word-buildah"


def client_for(registry: LocalRegistry) -> DistributionClient:
    from qengine.secrets.value import SecretValue

    return DistributionClient(
        registry.url,
        username=registry.username,
        password=SecretValue(registry.password) if registry.password else None,
        ca_pem=registry.ca_pem,
    )


def image_blobs(registry: LocalRegistry, repository: str, tag: str) -> dict[str, bytes]:
    """Every byte the registry holds for the image: manifest, config, decompressed layers."""
    client = client_for(registry)
    scope = f"repository:{repository}:pull"
    manifest = client.request(
        "GET",
        f"/v2/{repository}/manifests/{tag}",
        scope=scope,
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )
    assert manifest.status == 200, manifest.status
    document = json.loads(manifest.body)
    blobs = {"manifest": manifest.body}
    for entry in [document["config"], *document["layers"]]:
        body = client.request("GET", f"/v2/{repository}/blobs/{entry['digest']}", scope=scope).body
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        blobs[entry["digest"]] = body
    return blobs


def layer_files(blobs: dict[str, bytes]) -> dict[str, bytes]:
    """The regular files of every layer, by path."""
    files: dict[str, bytes] = {}
    for name, body in blobs.items():
        if name == "manifest" or not tarfile.is_tarfile(io.BytesIO(body)):
            continue
        with tarfile.open(fileobj=io.BytesIO(body)) as archive:
            for member in archive.getmembers():
                handle = archive.extractfile(member) if member.isfile() else None
                if handle is not None:
                    files[member.name.lstrip("./")] = handle.read()
    return files
