"""Cross-field checks of a job whose fields are not all well-formed.

When some field of a job is malformed the job cannot be built, yet most of its cross-field
problems can still be computed from the parts that are well-formed: each service is built on
its own, and the checks of :mod:`qengine.spec._checks` run on those that build, with the names
of all services as written. A user then sees every problem at once. Plugins' checks need a
whole job and wait until the fields are fixed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import cattrs

from qengine._errors import SpecIssue
from qengine.spec._checks import (
    addons_issues,
    common_issues,
    environment_issues,
    registry_issue,
    unsealed_references,
)
from qengine.spec._job import Addons
from qengine.spec._refs import secret_references
from qengine.spec._scalars import Timestamp
from qengine.spec._services import Service


def partial_issues(
    document: Mapping[str, object], kind: str, converter: cattrs.Converter
) -> list[SpecIssue]:
    """The cross-field problems among the well-formed parts of a malformed ``document``."""
    built = _Builder(converter)
    issues = list(
        common_issues(
            built.part(document.get("max_parallel", 4), int),
            built.part(document.get("created_at"), Timestamp),
            built.part(document.get("not_after"), Timestamp),
        )
    )
    if kind == "EnvironmentJob":
        issues += _environment(document, built)
    elif kind == "InfrastructureJob":
        cluster = document.get("cluster")
        addons = cluster.get("addons", {}) if isinstance(cluster, dict) else None
        structured = built.part(addons, Addons)
        if structured is not None:
            issues += addons_issues(structured, has_dns=document.get("dns") is not None)
    return issues


class _Builder:
    def __init__(self, converter: cattrs.Converter) -> None:
        self.converter = converter

    def part(self, value: object, cl: Any) -> Any:
        """``value`` built as ``cl``, or ``None`` if it is absent or malformed."""
        if value is None:
            return None
        try:
            return self.converter.structure(value, cl)
        except Exception:  # its problems are reported by the whole job's structuring
            return None


def _environment(document: Mapping[str, object], built: _Builder) -> Iterator[SpecIssue]:
    build = document.get("build")
    if isinstance(build, dict) and document.get("registry") is None:
        yield registry_issue(build.get("kind"))
    environment = document.get("environment")
    raw = environment.get("services") if isinstance(environment, dict) else None
    raw_services = raw if isinstance(raw, list) else []
    entries = [
        (index, service)
        for index, item in enumerate(raw_services)
        if (service := built.part(item, Service)) is not None
    ]
    written = [
        (index, item["name"])
        for index, item in enumerate(raw_services)
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    ]
    chosen = document.get("services")
    selected = [
        (index, name)
        for index, name in enumerate(chosen if isinstance(chosen, list) else [])
        if isinstance(name, str)
    ]
    yield from environment_issues(entries, written, selected)
    secrets = document.get("secrets")
    sealed = secrets.get("sealed") if isinstance(secrets, dict) else None
    if isinstance(sealed, dict):
        references = [
            found
            for index, service in entries
            for found in secret_references(service, f"$.environment.services[{index}]")
        ]
        yield from unsealed_references(references, sealed)
