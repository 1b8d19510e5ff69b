"""Sandbox runs: plaintext demo secrets sealed in-process under an ephemeral key.

This is the only path in qengine that takes plaintext secrets into a job. The key lives in
memory for the life of one :class:`EphemeralKeyProvider` and is never written anywhere; its
``kind`` is ``"sandbox"``, so no other provider opens what it wrapped, and a job sealed here
cannot be run outside the sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from qengine._errors import SecretError
from qengine.interfaces.keys import KeyProvider, WrappedKey
from qengine.secrets import envelope
from qengine.secrets.sealing import seal_job

_KEY_ID = "ephemeral"


class EphemeralKeyProvider(KeyProvider):
    """A key provider whose single random master key exists only in this object."""

    kind = "sandbox"

    def __init__(self) -> None:
        self._master = os.urandom(envelope.KEY_BYTES)
        self._ref = envelope.MasterKeyRef(provider=self.kind, key_id=_KEY_ID, version=1)

    def wrap(self, data_key: bytes, *, organization_id: str) -> WrappedKey:
        """Wrap under the ephemeral key (version 1, the only one)."""
        org_key = envelope.org_key_from_master(
            self._master, organization_id=organization_id, ref=self._ref
        )
        ciphertext = envelope.wrap_data_key(
            org_key, data_key, organization_id=organization_id, ref=self._ref
        )
        return WrappedKey(provider=self.kind, key_id=_KEY_ID, version=1, ciphertext=ciphertext)

    def unwrap(self, wrapped: WrappedKey, *, organization_id: str) -> bytes:
        """Unwrap a key this very instance wrapped."""
        if (wrapped.provider, wrapped.key_id, wrapped.version) != (self.kind, _KEY_ID, 1):
            raise SecretError("the data key was not wrapped by this sandbox's ephemeral key")
        org_key = envelope.org_key_from_master(
            self._master, organization_id=organization_id, ref=self._ref
        )
        return envelope.unwrap_data_key(
            org_key, wrapped.ciphertext, organization_id=organization_id, ref=self._ref
        )


def seal_for_sandbox(
    job: Mapping[str, Any], plaintext_secrets: Mapping[str, str]
) -> tuple[dict[str, Any], KeyProvider]:
    """Seal ``job`` with ``plaintext_secrets`` under a fresh ephemeral key.

    Returns the sealed job and the only provider able to open it.
    """
    provider = EphemeralKeyProvider()
    return seal_job(job, plaintext_secrets, provider), provider
