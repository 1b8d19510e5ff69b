"""Key providers hold master keys and wrap per-job data keys."""

from __future__ import annotations

import abc
from typing import ClassVar

import attrs


@attrs.frozen(kw_only=True)
class WrappedKey:
    """A data key encrypted under a provider's key, safe to carry inside a job spec.

    ``ciphertext`` is base64 text; ``key_id`` and ``version`` name the master key that wrapped
    it, so a job sealed under an old version still opens after rotation.
    """

    provider: str
    key_id: str
    version: int
    ciphertext: str


class KeyProvider(abc.ABC):
    """Wraps and unwraps per-job data keys for an organization.

    Implementations bind ``organization_id`` into the wrap (a derived per-organization key, or
    a KMS encryption context), so a key wrapped for one organization never opens for another.
    """

    kind: ClassVar[str]

    @abc.abstractmethod
    def wrap(self, data_key: bytes, *, organization_id: str) -> WrappedKey:
        """Encrypt ``data_key`` (32 random bytes) under the newest key version.

        Post: ``unwrap(result, organization_id=organization_id) == data_key``.
        """

    @abc.abstractmethod
    def unwrap(self, wrapped: WrappedKey, *, organization_id: str) -> bytes:
        """Decrypt a data key wrapped by :meth:`wrap`, under whichever version wrapped it.

        Raises :class:`~qengine.SecretError` if the key, version or organization does not match.
        """
