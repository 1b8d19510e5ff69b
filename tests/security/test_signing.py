"""Signed jobs: a signed job verifies; unsigned, tampered, unknown-key, expired and replayed
jobs are refused before anything runs, each with its reason."""

from __future__ import annotations

import copy
import datetime
import os
import pathlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from qengine._errors import InvalidInputError, JobRefusedError, SecretError
from qengine.secrets.signing import JobRefused, key_id_of, sign_job, verify_job
from qengine.secrets.signing_keys import (
    generate_signing_key,
    load_private_key,
    load_public_key,
    load_trusted_keys,
)

NOW = datetime.datetime(2029, 12, 31, 23, 0, tzinfo=datetime.UTC)
Job = dict[str, Any]


class AcceptedJobs:
    """The replay record: a set of job ids, as a state store keeps them."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    def __call__(self, job_id: str) -> bool:
        if job_id in self.ids:
            return False
        self.ids.add(job_id)
        return True


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _verify(
    job: Job, key: Ed25519PrivateKey, accepted: AcceptedJobs | None = None, **kw: Any
) -> None:
    trusted = {key_id_of(key.public_key()): key.public_key()}
    verify_job(job, trusted, now=kw.pop("now", NOW), accept_once=accepted or AcceptedJobs(), **kw)


def _refusal(job: Job, key: Ed25519PrivateKey, **kw: Any) -> JobRefused:
    with pytest.raises(JobRefused) as caught:
        _verify(job, key, **kw)
    assert isinstance(caught.value, JobRefusedError)
    assert caught.value.exit_code == 2
    return caught.value


def test_a_signed_job_verifies_and_signing_does_not_change_the_input(
    job: Job, key: Ed25519PrivateKey
) -> None:
    signed = sign_job(job, key)
    assert "signature" not in job
    assert signed["signature"]["alg"] == "ed25519"
    assert signed["signature"]["key_id"] == key_id_of(key.public_key())
    _verify(signed, key)


def test_signature_is_independent_of_key_order(job: Job, key: Ed25519PrivateKey) -> None:
    signed = sign_job(job, key)
    reordered = dict(reversed(list(signed.items())))
    _verify(reordered, key)


def test_unsigned_job_is_refused(job: Job, key: Ed25519PrivateKey) -> None:
    assert _refusal(job, key).reason == "unsigned"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda j: j["services"][0].__setitem__("name", "evil"), id="edit-value"),
        pytest.param(lambda j: j.__setitem__("extra", True), id="add-member"),
        pytest.param(lambda j: j.pop("actor"), id="remove-member"),
        pytest.param(lambda j: j.__setitem__("not_after", "2031-01-01T00:00:00Z"), id="extend"),
        pytest.param(
            lambda j: j["signature"].__setitem__("value", "A" * 86 + "=="), id="signature"
        ),
    ],
)
def test_tampered_job_is_refused(job: Job, key: Ed25519PrivateKey, tamper: Any) -> None:
    signed = sign_job(job, key)
    tamper(signed)
    assert _refusal(signed, key).reason == "tampered"


def test_unknown_key_is_refused(job: Job, key: Ed25519PrivateKey) -> None:
    signed = sign_job(job, Ed25519PrivateKey.generate())
    refusal = _refusal(signed, key)
    assert refusal.reason == "unknown_key"
    assert "trusted keys" in refusal.hint


def test_expiry_allows_the_clock_skew_and_no_more(job: Job, key: Ed25519PrivateKey) -> None:
    signed = sign_job(job, key)
    expiry = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    skew = datetime.timedelta(minutes=5)
    _verify(signed, key, now=expiry + skew, clock_skew=skew)
    refusal = _refusal(
        signed, key, now=expiry + skew + datetime.timedelta(seconds=1), clock_skew=skew
    )
    assert refusal.reason == "expired"


def test_not_after_with_an_offset_is_honoured(job: Job, key: Ed25519PrivateKey) -> None:
    job["not_after"] = "2030-01-01T02:00:00+02:00"  # 00:00 UTC
    signed = sign_job(job, key)
    late = datetime.datetime(2030, 1, 1, 0, 6, tzinfo=datetime.UTC)
    assert _refusal(signed, key, now=late).reason == "expired"


@pytest.mark.parametrize("value", [None, "2030-01-01", "yesterday", 1893456000])
def test_missing_or_malformed_not_after_is_refused(
    job: Job, key: Ed25519PrivateKey, value: object
) -> None:
    if value is None:
        del job["not_after"]
    else:
        job["not_after"] = value
    assert _refusal(sign_job(job, key), key).reason in ("expired", "malformed")


def test_replayed_job_is_refused_and_refusals_do_not_burn_the_id(
    job: Job, key: Ed25519PrivateKey
) -> None:
    accepted = AcceptedJobs()
    signed = sign_job(job, key)
    tampered = copy.deepcopy(signed)
    tampered["action"] = "delete"
    _refusal(tampered, key, accepted=accepted)
    assert accepted.ids == set()
    _verify(signed, key, accepted)
    assert _refusal(signed, key, accepted=accepted).reason == "replayed"


def test_malformed_signature_section(job: Job, key: Ed25519PrivateKey) -> None:
    signed = sign_job(job, key)
    signed["signature"]["alg"] = "rsa"
    assert _refusal(signed, key).reason == "malformed"
    signed = sign_job(job, key)
    signed["signature"]["value"] = "not base64!"
    assert _refusal(signed, key).reason == "malformed"


def test_key_files_round_trip_and_private_key_permissions(tmp_path: pathlib.Path, job: Job) -> None:
    private_path, public_path, key_id = generate_signing_key(tmp_path / "keys")
    assert private_path.stat().st_mode & 0o777 == 0o600
    private = load_private_key(private_path)
    trusted = load_trusted_keys([public_path])
    assert list(trusted) == [key_id]
    verify_job(sign_job(job, private), trusted, now=NOW, accept_once=AcceptedJobs())
    os.chmod(private_path, 0o644)
    with pytest.raises(SecretError, match="0644"):
        load_private_key(private_path)
    with pytest.raises(InvalidInputError, match="already exists"):
        generate_signing_key(tmp_path / "keys")
    with pytest.raises(InvalidInputError, match="public key"):
        load_public_key(private_path)


def test_a_naive_now_is_a_programming_error(job: Job, key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _verify(sign_job(job, key), key, now=datetime.datetime(2029, 1, 1))
