"""The identity of an image: a tag that is a content hash of everything the build depends on.

Identical inputs give the same tag, so a redeploy of the same commit finds the image already in
the registry and builds nothing. Build-argument values enter only as SHA-256 digests; the tag
itself is a further digest of the whole, truncated to 20 hex characters (80 bits). A secret
build argument with little entropy could still be guessed by someone who knows every other
input and tries values against the tag: give secret build arguments real entropy (tokens, not
words).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from qengine.secrets.value import SecretValue

TAG_PREFIX = "qe-"
_VERSION = 1  # bump when the recipe changes, so old tags are never mistaken for new ones


def image_tag(
    *,
    commit: str,
    dockerfile: str,
    build_args: Mapping[str, str | SecretValue],
    target: str | None,
    platform: str | None,
) -> str:
    """``qe-<commit[:12]>-<digest[:20]>``: the commit stays readable, the digest covers all.

    ``dockerfile`` is the path relative to the repository root (after ``root_path``).
    """
    material = {
        "v": _VERSION,
        "commit": commit.lower(),
        "dockerfile": dockerfile,
        "args": {name: _digest(value) for name, value in sorted(build_args.items())},
        "target": target,
        "platform": platform,
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    return f"{TAG_PREFIX}{commit.lower()[:12]}-{hashlib.sha256(canonical).hexdigest()[:20]}"


def _digest(value: str | SecretValue) -> str:
    text = value.reveal() if isinstance(value, SecretValue) else value
    return hashlib.sha256(text.encode()).hexdigest()
