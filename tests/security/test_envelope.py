"""The key hierarchy and AES-256-GCM sealing: round trips and every context mismatch."""

from __future__ import annotations

import base64
import itertools

import attrs
import pytest

from qengine._errors import SecretError
from qengine.secrets import envelope
from qengine.secrets._fields import encode_fields

REF = envelope.MasterKeyRef(provider="local", key_id="default", version=1)
CONTEXT = envelope.SealContext(organization_id="org-a", job_id="job-1", master=REF)
VALUE = "s3cret value"


def _sealed() -> tuple[bytes, str]:
    data_key = envelope.new_data_key()
    return data_key, envelope.seal_secret(data_key, VALUE, name="db", context=CONTEXT)


def test_round_trip() -> None:
    data_key, sealed = _sealed()
    opened = envelope.open_secret(data_key, sealed, name="db", context=CONTEXT)
    assert opened.reveal() == VALUE


def test_each_sealing_uses_a_fresh_nonce() -> None:
    data_key = envelope.new_data_key()
    first = envelope.seal_secret(data_key, VALUE, name="db", context=CONTEXT)
    second = envelope.seal_secret(data_key, VALUE, name="db", context=CONTEXT)
    assert base64.b64decode(first)[:12] != base64.b64decode(second)[:12]


@pytest.mark.parametrize(
    ("name", "context"),
    [
        pytest.param("db", attrs.evolve(CONTEXT, job_id="job-2"), id="other-job"),
        pytest.param("db", attrs.evolve(CONTEXT, organization_id="org-b"), id="other-org"),
        pytest.param("other", CONTEXT, id="other-name"),
        pytest.param(
            "db", attrs.evolve(CONTEXT, master=attrs.evolve(REF, version=2)), id="version"
        ),
        pytest.param(
            "db", attrs.evolve(CONTEXT, master=attrs.evolve(REF, key_id="k2")), id="key-id"
        ),
    ],
)
def test_moved_ciphertext_does_not_open(name: str, context: envelope.SealContext) -> None:
    data_key, sealed = _sealed()
    with pytest.raises(SecretError, match="does not open") as caught:
        envelope.open_secret(data_key, sealed, name=name, context=context)
    assert VALUE not in str(caught.value)
    assert VALUE not in caught.value.hint


def test_tampered_ciphertext_and_wrong_key_do_not_open() -> None:
    data_key, sealed = _sealed()
    raw = bytearray(base64.b64decode(sealed))
    raw[-1] ^= 1
    with pytest.raises(SecretError):
        envelope.open_secret(data_key, base64.b64encode(raw).decode(), name="db", context=CONTEXT)
    with pytest.raises(SecretError):
        envelope.open_secret(envelope.new_data_key(), sealed, name="db", context=CONTEXT)
    with pytest.raises(SecretError, match="base64"):
        envelope.open_secret(data_key, "not base64!", name="db", context=CONTEXT)


def test_data_key_wrap_is_bound_to_organization_and_version() -> None:
    org_key = envelope.org_key_from_master(bytes(32), organization_id="org-a", ref=REF)
    data_key = envelope.new_data_key()
    wrapped = envelope.wrap_data_key(org_key, data_key, organization_id="org-a", ref=REF)
    assert envelope.unwrap_data_key(org_key, wrapped, organization_id="org-a", ref=REF) == data_key
    with pytest.raises(SecretError, match="does not unwrap"):
        envelope.unwrap_data_key(org_key, wrapped, organization_id="org-b", ref=REF)
    with pytest.raises(SecretError, match="does not unwrap"):
        envelope.unwrap_data_key(
            org_key, wrapped, organization_id="org-a", ref=attrs.evolve(REF, version=2)
        )


def test_organization_keys_differ_per_organization_and_version() -> None:
    keys = {
        envelope.org_key_from_master(
            bytes(32), organization_id=org, ref=attrs.evolve(REF, version=v)
        )
        for org, v in itertools.product(["org-a", "org-b"], [1, 2])
    }
    assert len(keys) == 4


def test_passphrase_derivation_refuses_weak_iterations() -> None:
    with pytest.raises(SecretError, match="iterations"):
        envelope.org_key_from_passphrase(
            b"pw", salt=b"s" * 16, organization_id="o", iterations=1000
        )
    a = envelope.org_key_from_passphrase(b"pw", salt=b"s" * 16, organization_id="org-a")
    b = envelope.org_key_from_passphrase(b"pw", salt=b"s" * 16, organization_id="org-b")
    assert a != b
    assert len(a) == 32


def test_field_encoding_is_injective_where_concatenation_is_not() -> None:
    assert encode_fields("ab", "c") != encode_fields("a", "bc")
    assert encode_fields("a|b", "c") != encode_fields("a", "b|c")
    assert encode_fields("1", 2) == encode_fields("1", "2")  # ints are their decimal text
    with pytest.raises(TypeError):
        encode_fields(True)
