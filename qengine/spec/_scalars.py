"""Constrained scalar types of the job spec.

Each is a ``NewType`` over ``str`` or ``int`` with one checking function and one JSON Schema
fragment. The converter structures a value of such a type through its check, so a bad value is
reported at its ``$.path`` along with every other problem in the spec; the schema generator
emits the fragment. One table, :data:`SCALARS`, ties the three together.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Callable
from typing import Any, NewType
from urllib.parse import urlsplit

import attrs

from qengine.spec._cron import check_cron

DnsLabel = NewType("DnsLabel", str)
"""A Kubernetes object name: a DNS-1123 label (lower case, digits and ``-``, at most 63)."""
Identifier = NewType("Identifier", str)
"""An opaque id (job, organization, actor, environment, cluster): letters, digits, ``._-``."""
SecretName = NewType("SecretName", str)
"""The name of a sealed secret, as used in ``{"secret": "name"}``."""
EnvVarName = NewType("EnvVarName", str)
"""A POSIX environment variable name."""
Quantity = NewType("Quantity", str)
"""A Kubernetes resource quantity such as ``250m``, ``1.5``, ``512Mi`` or ``10Gi``."""
CronSchedule = NewType("CronSchedule", str)
"""A five-field cron expression (or ``@daily``-style macro) that fires at least once a year."""
Duration = NewType("Duration", str)
"""A duration such as ``90s``, ``15m``, ``1h30m``."""
ImageReference = NewType("ImageReference", str)
"""A container image reference: ``[registry/]repository[:tag][@sha256:digest]``."""
ImageTag = NewType("ImageTag", str)
"""An image tag."""
ImageDigest = NewType("ImageDigest", str)
"""A content digest, ``sha256:`` and 64 hex digits."""
Url = NewType("Url", str)
"""An absolute URL with a host (``https``, ``http``, ``oci``, ``ssh``, ``git`` schemes)."""
DomainName = NewType("DomainName", str)
"""A fully qualified host name, optionally starting with ``*.``."""
Cidr = NewType("Cidr", str)
"""An IPv4 or IPv6 network in CIDR notation, e.g. ``10.0.0.0/16``."""
Port = NewType("Port", int)
"""A TCP or UDP port number, 1 to 65535."""
CommitSha = NewType("CommitSha", str)
"""A full git commit id: 40 (SHA-1) or 64 (SHA-256) hex digits."""
RelativePath = NewType("RelativePath", str)
"""A path inside a checkout: relative, with no ``..`` component."""
AbsolutePath = NewType("AbsolutePath", str)
"""An absolute path inside a container, e.g. ``/var/lib/data``."""
KubernetesVersion = NewType("KubernetesVersion", str)
"""A Kubernetes minor version, ``1.30``."""
Timestamp = NewType("Timestamp", str)
"""An RFC 3339 date-time with a time zone, e.g. ``2026-01-01T12:00:00Z``."""

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_QUANTITY = re.compile(
    r"([+-]?[0-9]+(\.[0-9]*)?|[+-]?\.[0-9]+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?"
)
_DURATION = re.compile(r"(?=.)([0-9]+h)?([0-9]+m)?([0-9]+s)?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_REPO_COMPONENT = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*")
_REGISTRY_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?")
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_K8S_VERSION = re.compile(r"1\.[0-9]{1,2}")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_URL_SCHEMES = frozenset({"https", "http", "oci", "ssh", "git", "file"})


def _match(pattern: re.Pattern[str], what: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if pattern.fullmatch(value) else what

    return check


def _check_image(value: str) -> str | None:
    problem = "must be an image reference like registry.example.com/team/app:1.2 (lower case)"
    rest, _, digest = value.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        return "has a digest that is not sha256: and 64 hex digits"
    name, tag = rest, ""
    if ":" in rest.rsplit("/", 1)[-1]:
        name, _, tag = rest.rpartition(":")
    if tag and not _TAG.fullmatch(tag):
        return f"has an invalid tag {tag!r}"
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        if not _REGISTRY_HOST.fullmatch(parts[0]):
            return problem
        parts = parts[1:]
    if not parts or not all(_REPO_COMPONENT.fullmatch(part) for part in parts):
        return problem
    return None


def _check_url(value: str) -> str | None:
    if any(ch.isspace() for ch in value):
        return "must not contain white space"
    parts = urlsplit(value)
    if parts.scheme not in _URL_SCHEMES:
        return f"must be a URL with one of the schemes {', '.join(sorted(_URL_SCHEMES))}"
    if parts.scheme != "file" and not parts.hostname:
        return "must be an absolute URL with a host"
    return None


def _check_domain(value: str) -> str | None:
    name = value.removeprefix("*.").removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_HOST_LABEL.fullmatch(x) for x in labels):
        return "must be a fully qualified domain name such as app.example.com"
    return None


def _check_cidr(value: str) -> str | None:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        return f"must be a network in CIDR notation ({exc})"
    return None


def _check_port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else "must be a port number from 1 to 65535"


def _check_relative_path(value: str) -> str | None:
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or ".." in parts or "\x00" in value or not value:
        return "must be a relative path inside the source, without '..'"
    return None


def _check_absolute_path(value: str) -> str | None:
    if not value.startswith("/") or ".." in value.split("/") or "\x00" in value:
        return "must be an absolute path without '..'"
    return None


MAX_DURATION_SECONDS = 7 * 24 * 3600
"""The longest duration a job may give (a week): longer ones are mistakes, or overflow later."""


def _check_duration(value: str) -> str | None:
    if len(value) > 24 or not _DURATION.fullmatch(value):
        return "must be a duration such as 90s, 15m or 1h30m"
    if parse_duration(value) > MAX_DURATION_SECONDS:
        return f"must be at most {MAX_DURATION_SECONDS // 3600}h"
    return None


def _check_quantity(value: str) -> str | None:
    match = _QUANTITY.fullmatch(value) if len(value) <= 32 else None
    if match is None:
        return "must be a Kubernetes quantity such as 250m, 2, 512Mi or 10Gi"
    suffix = match.group(3) or ""
    if suffix[:1] in ("e", "E") and abs(int(suffix[1:])) > 18:
        return "has an exponent beyond 18"
    return None


def _check_timestamp(value: str) -> str | None:
    if len(value) > 40 or not _TIMESTAMP.fullmatch(value):
        return "must be an RFC 3339 date-time with a time zone"
    try:
        parsed = datetime.datetime.fromisoformat(value.upper().replace(" ", "T"))
        parsed.astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        return "is not a valid date-time between years 1 and 9999 (UTC)"
    return None


def _check_identifier(value: str) -> str | None:
    if "@" in value:
        return "must be a pseudonymous id, not an e-mail address"
    return (
        None if _IDENTIFIER.fullmatch(value) else "must be 1-128 letters, digits, '.', '_' or '-'"
    )


@attrs.frozen
class ScalarRule:
    """How one constrained scalar is checked and described in the JSON Schema."""

    base: type
    check: Callable[[Any], str | None]
    schema: dict[str, Any]


SCALARS: dict[object, ScalarRule] = {
    DnsLabel: ScalarRule(
        str,
        _match(
            _DNS_LABEL,
            "must be a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters",
        ),
        {"pattern": r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", "maxLength": 63},
    ),
    Identifier: ScalarRule(
        str, _check_identifier, {"pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"}
    ),
    SecretName: ScalarRule(
        str,
        _match(_SECRET_NAME, "must be a secret name: a letter or '_', then letters, digits, '_.-'"),
        {"pattern": r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"},
    ),
    EnvVarName: ScalarRule(
        str,
        _match(_ENV_VAR, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"),
        {"pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,254}$"},
    ),
    Quantity: ScalarRule(
        str,
        _check_quantity,
        {"pattern": "^" + _QUANTITY.pattern + "$", "maxLength": 32},
    ),
    CronSchedule: ScalarRule(str, check_cron, {"description": "five-field cron expression"}),
    Duration: ScalarRule(
        str,
        _check_duration,
        {"pattern": r"^(?=.)([0-9]+h)?([0-9]+m)?([0-9]+s)?$", "maxLength": 24},
    ),
    ImageReference: ScalarRule(str, _check_image, {"pattern": r"^[^\sA-Z]+$"}),
    ImageTag: ScalarRule(
        str, _match(_TAG, "must be an image tag"), {"pattern": "^" + _TAG.pattern + "$"}
    ),
    ImageDigest: ScalarRule(
        str,
        _match(_DIGEST, "must be sha256: followed by 64 hex digits"),
        {"pattern": "^" + _DIGEST.pattern + "$"},
    ),
    Url: ScalarRule(str, _check_url, {"format": "uri", "pattern": r"^[a-z]+://\S+$"}),
    DomainName: ScalarRule(str, _check_domain, {"format": "hostname"}),
    Cidr: ScalarRule(str, _check_cidr, {"pattern": r"^[0-9a-fA-F.:]+/[0-9]{1,3}$"}),
    Port: ScalarRule(int, _check_port, {"minimum": 1, "maximum": 65535}),
    CommitSha: ScalarRule(
        str,
        _match(_COMMIT, "must be a full commit id (40 or 64 lower-case hex digits)"),
        {"pattern": r"^([0-9a-f]{40}|[0-9a-f]{64})$"},
    ),
    RelativePath: ScalarRule(str, _check_relative_path, {"pattern": r"^[^/\\]"}),
    AbsolutePath: ScalarRule(str, _check_absolute_path, {"pattern": "^/"}),
    KubernetesVersion: ScalarRule(
        str,
        _match(_K8S_VERSION, "must be a Kubernetes minor version such as 1.31"),
        {"pattern": r"^1\.[0-9]{1,2}$"},
    ),
    Timestamp: ScalarRule(
        str,
        _check_timestamp,
        {"format": "date-time"},
    ),
}


def parse_duration(value: str) -> float:
    """Seconds in a :data:`Duration` string such as ``1h30m``."""
    match = _DURATION.fullmatch(value)
    if match is None:
        raise ValueError(f"not a duration: {value!r}")
    hours, minutes, seconds = (int(group[:-1]) if group else 0 for group in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)
