"""Image references: parsed and checked before anything is built or pushed."""

from __future__ import annotations

import re

import attrs

from qengine._errors import InvalidInputError

# Distribution's grammar, simplified: lower-case path components, an optional host[:port].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?:(?P<host>{_HOST})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@attrs.frozen(kw_only=True)
class ImageName:
    """``host/repository[:tag][@digest]``; ``host`` is empty for a bare repository name."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def with_tag(self, tag: str) -> ImageName:
        """The same repository with ``tag`` and no digest."""
        return attrs.evolve(self, tag=tag, digest=None)

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}" if self.host else self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(reference: str) -> ImageName:
    """Parse ``reference``; InvalidInputError (with the rule broken) if it is not valid."""
    match = _REFERENCE.match(reference)
    host = match.group("host") if match else None
    if match and host and "." not in host and ":" not in host and host != "localhost":
        match = _REFERENCE.match(f"docker.io/{reference}")  # first part is a path, not a host
        host = match.group("host") if match else None
    if match is None:
        hint = "Repository names are lower case: letters, digits, '.', '_', '-', '/'."
        if reference != reference.lower():
            hint = "Repository names must be lower case (only the registry host may have capitals)."
        raise InvalidInputError(f"{reference!r} is not a valid image reference", hint=hint)
    return ImageName(
        host=host or "",
        repository=match.group("path"),
        tag=match.group("tag"),
        digest=match.group("digest"),
    )
