"""Names of rendered objects: the namespace of an environment and each service's objects.

Every name is derived, never chosen by the user beyond the service name, so two renders of the
same spec name the same objects. A service ``web`` owns ``web`` (Deployment or StatefulSet,
Service, ServiceAccount, HPA, PDB, CronJob, Ingress) and suffixed Secrets and ConfigMaps.
"""

from __future__ import annotations

import hashlib
import re

from qengine.spec import Environment

NAMESPACE_PREFIX = "qe-"
DNS_LABEL_MAX = 63
# Longest names that still leave room for what controllers append to them: a StatefulSet's
# pods carry the label controller-revision-hash=<name>-<10 chars>, a CronJob's Jobs are named
# <name>-<11 digits>, and a Job's pods carry the label job-name=<name>.
MAX_NAME_LENGTH: dict[str, int] = {
    "Deployment": 63,
    "StatefulSet": 52,
    "CronJob": 52,
    "Job": 63,
    "Service": 63,
    "Ingress": 253,
    "Secret": 253,
    "ConfigMap": 253,
    "ServiceAccount": 253,
    "HorizontalPodAutoscaler": 253,
    "PodDisruptionBudget": 253,
    "NetworkPolicy": 253,
    "ResourceQuota": 253,
    "LimitRange": 253,
    "Namespace": 63,
}
_NOT_DNS = re.compile(r"[^a-z0-9-]+")

ISOLATION_POLICY = "qengine-isolation"
QUOTA = "qengine-quota"
LIMITS = "qengine-limits"
OUTPUT_VOLUME = "qengine-output"
FILES_VOLUME = "qengine-files"


def short_hash(material: str | bytes, length: int = 8) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``material``."""
    data = material.encode() if isinstance(material, str) else material
    return hashlib.sha256(data).hexdigest()[:length]


def dns_label(text: str) -> str:
    """``text`` lower-cased, runs of other characters turned to '-', trimmed of '-'."""
    return _NOT_DNS.sub("-", text.lower()).strip("-")


def namespace_name(environment: Environment) -> str:
    """``qe-<name>-<6 hex digits of the environment id>``, at most 63 characters.

    The name makes the namespace recognisable; the digest of the id keeps two environments of
    the same name (two teams' ``staging``) apart on one cluster. A long name is cut so the
    whole stays a DNS-1123 label.
    """
    suffix = "-" + short_hash(environment.id, 6)
    room = DNS_LABEL_MAX - len(NAMESPACE_PREFIX) - len(suffix)
    stem = dns_label(environment.name)[:room].rstrip("-")
    return f"{NAMESPACE_PREFIX}{stem}{suffix}"


def env_secret(service: str) -> str:
    """The Secret holding the opened values of ``service``'s secret environment variables."""
    return f"{service}-env"


def files_object(service: str) -> str:
    """The ConfigMap (or Secret, when a file is secret) holding ``service``'s mounted files."""
    return f"{service}-files"


def pull_secret(service: str) -> str:
    """The ``kubernetes.io/dockerconfigjson`` Secret of ``service``'s registry credentials."""
    return f"{service}-pull"


def credentials_secret(service: str) -> str:
    """The Secret holding a database's user name and password."""
    return f"{service}-credentials"


GATEWAY = "qengine-gateway"
"""The environment's Gateway, with Gateway API routing."""


def https_listener(host: str) -> str:
    """The name of the Gateway's HTTPS listener for ``host`` (a section name: ``*`` of a
    wildcard spelled ``wildcard``)."""
    return "https-" + host.lower().rstrip(".").replace("*", "wildcard")


def tls_secret(router: str) -> str:
    """The Secret cert-manager fills with the certificate of ``router``'s hosts."""
    return f"{router}-tls"


def basic_auth_secret(router: str) -> str:
    """The Secret holding ``router``'s htpasswd lines."""
    return f"{router}-basic-auth"


def job_name(service: str, spec_digest: str) -> str:
    """A run-once Job's name: Jobs are immutable, so a changed spec makes a new Job."""
    return f"{service}-{spec_digest}"
