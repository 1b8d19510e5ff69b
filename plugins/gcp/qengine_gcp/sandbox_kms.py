"""A local stand-in of Cloud KMS ``encrypt`` and ``decrypt`` (REST v1), the calls of the
``gcp-kms`` key provider, with real AES-256-GCM under per-version keys held in memory.

No emulator of Cloud KMS exists. As Cloud KMS does: the ciphertext names the version that made
it (``decrypt`` goes to the CryptoKey), the additional authenticated data must match, the
request's CRC32C checksums are verified (and reported verified) and the answer's are given;
errors are Google's error bodies (400 ``INVALID_ARGUMENT`` for a ciphertext that does not open,
404 for an unknown key, 401 for a refused token). :meth:`LocalKms.rotate` adds a primary
version.
"""

from __future__ import annotations

import os
from typing import Any

from qengine_gcp.sandbox_http import JsonStandIn, Reply, TokenIssuer, google_error, json_body


class LocalKms(JsonStandIn):
    """One CryptoKey, ``key`` (its resource name); use it as a context manager."""

    def __init__(
        self, key: str, *, token: str | None = None, issuer: TokenIssuer | None = None
    ) -> None:
        super().__init__(token=token, issuer=issuer)
        self.key = key
        self._versions = [os.urandom(32)]
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def rotate(self) -> None:
        """A new primary version; the old ones still decrypt."""
        self._versions.append(os.urandom(32))

    def route(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        if not self.accepts(headers.get("Authorization")):
            return google_error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        key, _, verb = path.removeprefix("/v1/").partition(":")
        request = json_body(body)
        self.calls.append((verb, request))
        if key != self.key:
            return google_error(404, "NOT_FOUND", f"{key} not found.")
        if method == "POST" and verb == "encrypt":
            return self._encrypt(request)
        if method == "POST" and verb == "decrypt":
            return self._decrypt(request)
        return google_error(404, "NOT_FOUND", f"Method {verb} not found.")

    def _encrypt(self, body: dict[str, Any]) -> Reply:
        import base64

        import google_crc32c
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        plaintext = base64.b64decode(body["plaintext"])
        aad = base64.b64decode(body.get("additionalAuthenticatedData", ""))
        if str(google_crc32c.value(plaintext)) != str(body.get("plaintextCrc32c")):
            return google_error(
                400,
                "INVALID_ARGUMENT",
                "The checksum in field plaintext_crc32c did not match the data in field plaintext.",
            )
        version = len(self._versions)
        nonce = os.urandom(12)
        sealed = AESGCM(self._versions[-1]).encrypt(nonce, plaintext, aad)
        ciphertext = bytes([version]) + nonce + sealed
        return 200, {
            "name": f"{self.key}/cryptoKeyVersions/{version}",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "ciphertextCrc32c": str(google_crc32c.value(ciphertext)),
            "verifiedPlaintextCrc32c": True,
            "verifiedAdditionalAuthenticatedDataCrc32c": True,
            "protectionLevel": "SOFTWARE",
        }

    def _decrypt(self, body: dict[str, Any]) -> Reply:
        import base64

        import google_crc32c
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        ciphertext = base64.b64decode(body["ciphertext"])
        aad = base64.b64decode(body.get("additionalAuthenticatedData", ""))
        invalid = google_error(
            400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid."
        )
        if len(ciphertext) < 14 or not 1 <= ciphertext[0] <= len(self._versions):
            return invalid
        version, nonce, sealed = ciphertext[0], ciphertext[1:13], ciphertext[13:]
        try:
            plaintext = AESGCM(self._versions[version - 1]).decrypt(nonce, sealed, aad)
        except InvalidTag:
            return invalid
        return 200, {
            "plaintext": base64.b64encode(plaintext).decode(),
            "plaintextCrc32c": str(google_crc32c.value(plaintext)),
            "usedPrimary": version == len(self._versions),
            "protectionLevel": "SOFTWARE",
        }
