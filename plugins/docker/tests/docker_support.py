"""Reading a pushed image back from a plain-HTTP registry: every blob, and layer files."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

from qengine_oci.client import MANIFEST_TYPES, DistributionClient


def image_blobs(url: str, repository: str, tag: str) -> dict[str, bytes] | None:
    """Manifest, config and decompressed layers; None if the tag does not exist."""
    client = DistributionClient(url)
    scope = f"repository:{repository}:pull"
    manifest = client.request(
        "GET",
        f"/v2/{repository}/manifests/{tag}",
        scope=scope,
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )
    if manifest.status == 404:
        return None
    document = json.loads(manifest.body)
    blobs = {"manifest": manifest.body}
    for entry in [document["config"], *document["layers"]]:
        body = client.request("GET", f"/v2/{repository}/blobs/{entry['digest']}", scope=scope).body
        blobs[entry["digest"]] = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    return blobs


def layer_files(blobs: dict[str, bytes]) -> dict[str, bytes]:
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
