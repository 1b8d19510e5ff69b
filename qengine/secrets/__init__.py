"""Job-scoped sealed secrets: envelope encryption, key providers, sealing and unsealing,
redaction, canonical JSON and signed jobs, and process hygiene.

Modules without a leading underscore are the API of this package:

- :mod:`~qengine.secrets.value`: :class:`SecretValue`, a value that never shows itself;
- :mod:`~qengine.secrets.envelope`: the key hierarchy and AES-256-GCM sealing;
- :mod:`~qengine.secrets.local_keys`: the ``local`` key provider and key management;
- :mod:`~qengine.secrets.sealing` / :mod:`~qengine.secrets.unsealing`: both sides of a job;
- :mod:`~qengine.secrets.sandbox`: the ephemeral key for ``--sandbox`` runs;
- :mod:`~qengine.secrets.redaction`: :class:`Redactor`;
- :mod:`~qengine.secrets.canonical`, :mod:`~qengine.secrets.signing`,
  :mod:`~qengine.secrets.signing_keys`: RFC 8785 and Ed25519 job signatures;
- :mod:`~qengine.secrets.hygiene`: core dumps, private temp dirs, child environments.
"""

from typing import TYPE_CHECKING

from qengine._lazy import lazy_names as _lazy_names

if TYPE_CHECKING:
    from qengine.secrets.local_keys import LocalKeyProvider
    from qengine.secrets.redaction import Redactor
    from qengine.secrets.sandbox import EphemeralKeyProvider, seal_for_sandbox
    from qengine.secrets.sealing import find_references, rewrap_job, seal_job
    from qengine.secrets.signing import JobRefused, sign_job, verify_job
    from qengine.secrets.unsealing import SealedSecrets
    from qengine.secrets.value import SecretValue

# Each name is imported from its module when first used, so that a module of this package
# (its file modes, its value type) does not bring the cryptography of the others along.
_LAZY = {
    "EphemeralKeyProvider": "qengine.secrets.sandbox",
    "JobRefused": "qengine.secrets.signing",
    "LocalKeyProvider": "qengine.secrets.local_keys",
    "Redactor": "qengine.secrets.redaction",
    "SealedSecrets": "qengine.secrets.unsealing",
    "SecretValue": "qengine.secrets.value",
    "find_references": "qengine.secrets.sealing",
    "rewrap_job": "qengine.secrets.sealing",
    "seal_for_sandbox": "qengine.secrets.sandbox",
    "seal_job": "qengine.secrets.sealing",
    "sign_job": "qengine.secrets.signing",
    "verify_job": "qengine.secrets.signing",
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY)


__all__ = [
    "EphemeralKeyProvider",
    "JobRefused",
    "LocalKeyProvider",
    "Redactor",
    "SealedSecrets",
    "SecretValue",
    "find_references",
    "rewrap_job",
    "seal_for_sandbox",
    "seal_job",
    "sign_job",
    "verify_job",
]
