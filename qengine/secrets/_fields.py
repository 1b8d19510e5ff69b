"""An injective byte encoding of a tuple of fields, for associated data and KDF inputs.

Each field is a 4-byte big-endian length followed by its UTF-8 bytes (integers are written
in decimal first), so ``("ab", "c")`` and ``("a", "bc")`` never encode alike, as they would
with plain concatenation or a separator that may occur inside a field.
"""

from __future__ import annotations


def encode_fields(*fields: str | int | bytes) -> bytes:
    """Encode ``fields`` in order; the first is conventionally a versioned domain label."""
    parts: list[bytes] = []
    for field in fields:
        if isinstance(field, bool):
            raise TypeError("booleans are not fields")
        if isinstance(field, int):
            raw = str(field).encode()
        elif isinstance(field, str):
            raw = field.encode("utf-8")
        else:
            raw = field
        parts.append(len(raw).to_bytes(4, "big") + raw)
    return b"".join(parts)
