"""Parsing and writing a job's ``secrets`` section (the sealed secrets and wrapped data key)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from qengine._errors import SpecError, SpecIssue
from qengine.interfaces.keys import WrappedKey
from qengine.secrets.references import NAME, member_path

_DATA_KEY_FIELDS = {"provider": str, "key_id": str, "version": int, "ciphertext": str}


@attrs.frozen(kw_only=True)
class SecretsSection:
    """The wrapped job data key and each sealed secret (base64 nonce || ciphertext)."""

    data_key: WrappedKey
    sealed: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        """The JSON form carried in the job as ``"secrets"``."""
        return {
            "data_key": attrs.asdict(self.data_key),
            "sealed": dict(sorted(self.sealed.items())),
        }


def parse_section(raw: object, path: str = "$.secrets") -> SecretsSection:
    """Strictly parse the ``secrets`` section; :class:`SpecError` names every bad ``$.path``."""
    if not isinstance(raw, Mapping):
        raise SpecError([SpecIssue(path, "must be an object")])
    issues = [
        SpecIssue(member_path(path, str(key)), "unknown key")
        for key in raw
        if key not in ("data_key", "sealed")
    ]
    issues += _data_key_issues(raw.get("data_key"), f"{path}.data_key")
    issues += _sealed_issues(raw.get("sealed"), f"{path}.sealed")
    if issues:
        raise SpecError(issues)
    data_key = WrappedKey(**{name: raw["data_key"][name] for name in _DATA_KEY_FIELDS})
    return SecretsSection(data_key=data_key, sealed=dict(raw["sealed"]))


def _data_key_issues(raw: object, path: str) -> list[SpecIssue]:
    if not isinstance(raw, Mapping):
        return [SpecIssue(path, "must be an object")]
    issues = [
        SpecIssue(member_path(path, str(k)), "unknown key")
        for k in raw
        if k not in _DATA_KEY_FIELDS
    ]
    for name, kind in _DATA_KEY_FIELDS.items():
        value = raw.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            issues.append(SpecIssue(f"{path}.{name}", f"must be a {kind.__name__}"))
    return issues


def _sealed_issues(raw: object, path: str) -> list[SpecIssue]:
    if not isinstance(raw, Mapping):
        return [SpecIssue(path, "must be an object")]
    issues = []
    for name, value in raw.items():
        where = member_path(path, str(name))
        if not NAME.match(str(name)):
            issues.append(SpecIssue(where, "is not a valid secret name"))
        if not isinstance(value, str):
            issues.append(SpecIssue(where, "must be a base64 string"))
    return issues


def job_identity(job: Mapping[str, Any]) -> tuple[str, str]:
    """``(job id, organization id)`` of a JSON job; :class:`SpecError` if either is missing."""
    issues = []
    job_id = job.get("id")
    if not isinstance(job_id, str) or not job_id:
        issues.append(SpecIssue("$.id", "must be a non-empty string"))
    org = job.get("organization")
    org_id = org.get("id") if isinstance(org, Mapping) else None
    if not isinstance(org_id, str) or not org_id:
        issues.append(SpecIssue("$.organization.id", "must be a non-empty string"))
    if issues:
        raise SpecError(issues)
    return str(job_id), str(org_id)
