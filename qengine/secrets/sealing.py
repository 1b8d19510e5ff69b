"""Sealing a job's secrets: the control plane's side.

:func:`seal_job` takes a JSON job and the plaintext secrets available to the control plane,
and returns the job with a ``secrets`` section holding exactly the secrets the job references,
each sealed for this job and organization (see :mod:`qengine.secrets.envelope`)::

    "secrets": {"data_key": {"provider": "local", "key_id": "default", "version": 1,
                             "ciphertext": "<b64>"},
                "sealed": {"<name>": "<b64 nonce || ciphertext>"}}

Sealing changes the job, so a ``signature`` on the input is dropped: sign after sealing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from qengine._errors import InvalidInputError
from qengine.interfaces.keys import KeyProvider, WrappedKey
from qengine.secrets import envelope
from qengine.secrets._section import SecretsSection, job_identity, parse_section
from qengine.secrets.references import NAME, find_references, reference_paths

__all__ = ["find_references", "reference_paths", "rewrap_job", "seal_job"]


def seal_job(
    job: Mapping[str, Any], secrets: Mapping[str, str], provider: KeyProvider
) -> dict[str, Any]:
    """Return a copy of ``job`` with the secrets it references sealed into ``secrets``.

    Refuses with :class:`InvalidInputError` (naming names and paths, never values) when the
    job already carries a sealed section, or ``secrets`` lacks a referenced name or holds a
    non-string value. Secrets the job does not reference are left out.
    """
    job_id, org_id = job_identity(job)
    if "secrets" in job:
        raise InvalidInputError(
            "the job already carries sealed secrets ($.secrets)",
            hint="Seal the unsealed job, or use `qengine seal --rewrap` to re-wrap it.",
        )
    paths = reference_paths(job)
    _check_available(paths, secrets)
    return _with_section(job, _seal_all(paths, secrets, provider, job_id, org_id))


def rewrap_job(job: Mapping[str, Any], provider: KeyProvider) -> dict[str, Any]:
    """Re-seal a sealed job under a new data key wrapped by the provider's newest key version.

    The old data key is unwrapped with whichever version wrapped it; every secret is opened
    and sealed again (its associated data names the key version, so it cannot be kept as is).
    """
    job_id, org_id = job_identity(job)
    section = parse_section(job.get("secrets"))
    old_key = provider.unwrap(section.data_key, organization_id=org_id)
    old_context = _context(job_id, org_id, section.data_key)
    plaintext = {
        name: envelope.open_secret(old_key, sealed, name=name, context=old_context).reveal()
        for name, sealed in section.sealed.items()
    }
    names = {name: () for name in section.sealed}
    return _with_section(job, _seal_all(names, plaintext, provider, job_id, org_id))


def _seal_all(
    names: Mapping[str, object],
    secrets: Mapping[str, str],
    provider: KeyProvider,
    job_id: str,
    org_id: str,
) -> SecretsSection:
    data_key = envelope.new_data_key()
    wrapped = provider.wrap(data_key, organization_id=org_id)
    context = _context(job_id, org_id, wrapped)
    sealed = {
        name: envelope.seal_secret(data_key, secrets[name], name=name, context=context)
        for name in sorted(names)
    }
    return SecretsSection(data_key=wrapped, sealed=sealed)


def _context(job_id: str, org_id: str, wrapped: WrappedKey) -> envelope.SealContext:
    ref = envelope.MasterKeyRef(
        provider=wrapped.provider, key_id=wrapped.key_id, version=wrapped.version
    )
    return envelope.SealContext(organization_id=org_id, job_id=job_id, master=ref)


def _check_available(paths: Mapping[str, tuple[str, ...]], secrets: Mapping[str, str]) -> None:
    bad_names = sorted(name for name in paths if not NAME.match(name))
    if bad_names:
        where = ", ".join(paths[name][0] for name in bad_names)
        raise InvalidInputError(f"invalid secret names referenced at {where}")
    missing = sorted(set(paths) - set(secrets))
    if missing:
        listing = "; ".join(f"{name} (at {', '.join(paths[name])})" for name in missing)
        raise InvalidInputError(
            f"the secrets file lacks {len(missing)} referenced secret(s): {listing}",
            hint="Add the missing names to the secrets file, or remove the references.",
        )
    not_text = sorted(name for name in paths if not _is_text(secrets[name]))
    if not_text:
        raise InvalidInputError(
            f"secret values must be Unicode strings (no lone surrogates): {', '.join(not_text)}"
        )


def _is_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # its message would quote a character of the secret
        return False
    return True


def _with_section(job: Mapping[str, Any], section: SecretsSection) -> dict[str, Any]:
    sealed_job = {k: copy.deepcopy(v) for k, v in job.items() if k not in ("secrets", "signature")}
    sealed_job["secrets"] = section.to_json()
    return sealed_job
