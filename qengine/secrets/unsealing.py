"""Opening a job's sealed secrets: the engine's side.

:class:`SealedSecrets` holds a job's sealed section. Before any step runs, the runner calls
:meth:`SealedSecrets.check_job` (or :meth:`~SealedSecrets.check_references`), which refuses a
job carrying a sealed secret nothing references, or referencing one it does not carry. A step
then calls :meth:`~SealedSecrets.open` for each secret it uses, and only then: the data key is
unwrapped on the first opening, and each opening is reported (by name) to ``on_open`` so the
runner can write a "secret unsealed" audit record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from qengine._errors import SecretError, SpecError, SpecIssue
from qengine.interfaces.keys import KeyProvider
from qengine.secrets import envelope
from qengine.secrets._section import SecretsSection, job_identity, parse_section
from qengine.secrets.references import member_path, reference_paths
from qengine.secrets.value import SecretValue

OnOpen = Callable[[str], None]


class SealedSecrets:
    """A job's sealed secrets, opened one by one on demand. Thread-safe."""

    def __init__(
        self,
        section: Mapping[str, Any] | None,
        *,
        provider: KeyProvider,
        organization_id: str,
        job_id: str,
        on_open: OnOpen | None = None,
    ) -> None:
        """``section`` is the job's ``secrets`` member (``None`` when the job has none)."""
        self._section: SecretsSection | None = None if section is None else parse_section(section)
        self._provider = provider
        self._org_id = organization_id
        self._job_id = job_id
        self._on_open = on_open
        self._data_key: bytes | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_job(
        cls, job: Mapping[str, Any], provider: KeyProvider, *, on_open: OnOpen | None = None
    ) -> SealedSecrets:
        """Build from a whole JSON job (its id, organization id and ``secrets`` section)."""
        job_id, org_id = job_identity(job)
        return cls(
            job.get("secrets"),
            provider=provider,
            organization_id=org_id,
            job_id=job_id,
            on_open=on_open,
        )

    @property
    def names(self) -> frozenset[str]:
        """The names of the sealed secrets."""
        return frozenset(self._section.sealed if self._section else ())

    def check_job(self, job: Mapping[str, Any]) -> None:
        """:meth:`check_references` with every reference found in ``job``."""
        self.check_references(reference_paths(job))

    def check_references(self, referenced: Mapping[str, Iterable[str]] | Iterable[str]) -> None:
        """Refuse unless the referenced names are exactly the sealed names.

        ``referenced`` maps each name to the ``$.path`` of its references (or is a plain set
        of names). Raises :class:`SpecError` with one issue per bad name.
        """
        paths = referenced if isinstance(referenced, Mapping) else {n: () for n in referenced}
        issues = [
            SpecIssue(member_path("$.secrets.sealed", name), "sealed but not referenced by the job")
            for name in sorted(self.names - set(paths))
        ]
        for name in sorted(set(paths) - self.names):
            where = list(paths[name]) or ["$"]
            issues += [
                SpecIssue(p, f"references secret {name!r}, which the job does not carry")
                for p in where
            ]
        if issues:
            raise SpecError(issues, hint="Seal the job again with `qengine seal` from its spec.")

    def verify(self) -> None:
        """Check, before any step runs, that every secret would open: the data key unwraps
        (provider, key id, version, organization) and every ciphertext's tag holds for this job,
        organization and name. Raises :class:`SecretError` naming the first that does not.
        The values stay sealed: nothing is kept or reported to ``on_open``."""
        if self._section is None:
            return
        data_key = self._unwrapped(self._section)
        context = self._context(self._section)
        for name, sealed in sorted(self._section.sealed.items()):
            envelope.check_secret(data_key, sealed, name=name, context=context)

    def open(self, name: str) -> SecretValue:
        """Open the secret ``name`` for this job; report the opening to ``on_open``."""
        if self._section is None or name not in self._section.sealed:
            raise SecretError(f"the job carries no sealed secret named {name!r}")
        value = envelope.open_secret(
            self._unwrapped(self._section),
            self._section.sealed[name],
            name=name,
            context=self._context(self._section),
        )
        if self._on_open is not None:
            self._on_open(name)
        return value

    def _context(self, section: SecretsSection) -> envelope.SealContext:
        return envelope.SealContext(
            organization_id=self._org_id,
            job_id=self._job_id,
            master=envelope.MasterKeyRef(
                provider=section.data_key.provider,
                key_id=section.data_key.key_id,
                version=section.data_key.version,
            ),
        )

    def _unwrapped(self, section: SecretsSection) -> bytes:
        with self._lock:
            if self._data_key is None:
                self._data_key = self._provider.unwrap(
                    section.data_key, organization_id=self._org_id
                )
            return self._data_key
