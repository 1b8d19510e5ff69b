"""Sealing (control plane) and unsealing (engine): references, refusals, rewrap, sandbox."""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any

import pytest

from qengine._errors import InvalidInputError, SecretError, SpecError
from qengine.interfaces.keys import KeyProvider, WrappedKey
from qengine.secrets.local_keys import LocalKeyProvider, rotate_key
from qengine.secrets.references import find_references, reference_paths
from qengine.secrets.sandbox import EphemeralKeyProvider, seal_for_sandbox
from qengine.secrets.sealing import rewrap_job, seal_job
from qengine.secrets.unsealing import SealedSecrets

Job = dict[str, Any]


class CountingProvider(KeyProvider):
    """A real local provider that counts unwraps (to show unwrapping is lazy)."""

    kind = "local"

    def __init__(self, inner: LocalKeyProvider) -> None:
        self.inner = inner
        self.unwraps = 0

    def wrap(self, data_key: bytes, *, organization_id: str) -> WrappedKey:
        return self.inner.wrap(data_key, organization_id=organization_id)

    def unwrap(self, wrapped: WrappedKey, *, organization_id: str) -> bytes:
        self.unwraps += 1
        return self.inner.unwrap(wrapped, organization_id=organization_id)


def test_references_are_found_with_their_paths(job: Job) -> None:
    job["services"][0]["odd key"] = [{"secret": "db-password"}]
    job["services"][0]["not-a-ref"] = {"secret": "x", "other": 1}
    assert find_references(job) == {"db-password", "git-token", "registry-password"}
    assert reference_paths(job)["db-password"] == (
        "$.services[0].env.DB_PASSWORD",
        '$.services[0]["odd key"][0]',
        "$.services[1].env.DB_PASSWORD",
    )


def test_seal_round_trip_opens_each_referenced_secret(
    job: Job, plaintext: dict[str, str], provider: LocalKeyProvider
) -> None:
    sealed = seal_job(job, plaintext, provider)
    assert set(sealed["secrets"]["sealed"]) == {"db-password", "git-token", "registry-password"}
    assert sealed["secrets"]["data_key"]["provider"] == "local"
    text = json.dumps(sealed)
    assert all(value not in text for value in plaintext.values())
    secrets = SealedSecrets.from_job(sealed, provider)
    secrets.check_job(sealed)
    for name in ("db-password", "git-token", "registry-password"):
        assert secrets.open(name).reveal() == plaintext[name]
    assert job.get("secrets") is None  # the input is not modified


def test_seal_refuses_missing_secrets_naming_names_and_paths(
    job: Job, plaintext: dict[str, str], provider: LocalKeyProvider
) -> None:
    del plaintext["git-token"], plaintext["db-password"]
    with pytest.raises(InvalidInputError, match="lacks 2 referenced") as caught:
        seal_job(job, plaintext, provider)
    message = str(caught.value)
    assert "git-token (at $.services[2].git.token)" in message
    assert "db-password" in message
    assert plaintext["registry-password"] not in message


def test_seal_refuses_an_already_sealed_job_and_a_job_without_ids(
    job: Job, plaintext: dict[str, str], provider: LocalKeyProvider
) -> None:
    sealed = seal_job(job, plaintext, provider)
    with pytest.raises(InvalidInputError, match="already carries"):
        seal_job(sealed, plaintext, provider)
    del job["organization"]
    with pytest.raises(SpecError, match=r"\$\.organization\.id"):
        seal_job(job, plaintext, provider)


def test_seal_drops_a_signature(job: Job, plaintext: dict[str, str], provider: KeyProvider) -> None:
    job["signature"] = {"key_id": "k", "alg": "ed25519", "value": "AAAA"}
    assert "signature" not in seal_job(job, plaintext, provider)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda j: j.__setitem__("id", "job-0002"), id="other-job"),
        pytest.param(lambda j: j["organization"].__setitem__("id", "org-b"), id="other-org"),
    ],
)
def test_a_sealed_section_moved_to_another_job_or_org_does_not_open(
    job: Job, plaintext: dict[str, str], provider: LocalKeyProvider, change: Any
) -> None:
    sealed = seal_job(job, plaintext, provider)
    moved = copy.deepcopy(sealed)
    change(moved)
    secrets = SealedSecrets.from_job(moved, provider)
    with pytest.raises(SecretError) as caught:
        secrets.open("git-token")
    assert plaintext["git-token"] not in str(caught.value)


def test_a_ciphertext_moved_to_another_name_does_not_open(
    job: Job, plaintext: dict[str, str], provider: LocalKeyProvider
) -> None:
    sealed = seal_job(job, plaintext, provider)
    box = sealed["secrets"]["sealed"]
    box["git-token"], box["db-password"] = box["db-password"], box["git-token"]
    with pytest.raises(SecretError, match="'git-token' does not open"):
        SealedSecrets.from_job(sealed, provider).open("git-token")


def test_a_ciphertext_moved_between_two_sealed_jobs_does_not_open(
    job: Job, plaintext: dict[str, str], provider: LocalKeyProvider
) -> None:
    first = seal_job(job, plaintext, provider)
    second = seal_job(dict(job, id="job-0002"), plaintext, provider)
    second["secrets"]["sealed"]["git-token"] = first["secrets"]["sealed"]["git-token"]
    with pytest.raises(SecretError):
        SealedSecrets.from_job(second, provider).open("git-token")
    second["secrets"] = first["secrets"]
    with pytest.raises(SecretError, match="does not open for job 'job-0002'"):
        SealedSecrets.from_job(second, provider).open("git-token")


def test_tampered_data_key_and_wrong_key_version_are_refused(
    job: Job, plaintext: dict[str, str], provider: LocalKeyProvider
) -> None:
    sealed = seal_job(job, plaintext, provider)
    tampered = copy.deepcopy(sealed)
    text = tampered["secrets"]["data_key"]["ciphertext"]
    tampered["secrets"]["data_key"]["ciphertext"] = (
        text[:10] + ("A" if text[10] != "A" else "B") + text[11:]
    )
    with pytest.raises(SecretError, match="does not unwrap"):
        SealedSecrets.from_job(tampered, provider).open("git-token")
    wrong_version = copy.deepcopy(sealed)
    wrong_version["secrets"]["data_key"]["version"] = 2
    with pytest.raises(SecretError, match="no version 2"):
        SealedSecrets.from_job(wrong_version, provider).open("git-token")


def test_check_refuses_unreferenced_and_unsealed_secrets_naming_paths(
    job: Job, plaintext: dict[str, str], provider: LocalKeyProvider
) -> None:
    sealed = seal_job(job, plaintext, provider)
    sealed["services"][2]["git"]["token"] = "inline"
    sealed["services"][0]["env"]["EXTRA"] = {"secret": "unused"}
    with pytest.raises(SpecError) as caught:
        SealedSecrets.from_job(sealed, provider).check_job(sealed)
    issues = {(issue.path, issue.message) for issue in caught.value.issues}
    assert issues == {
        ("$.secrets.sealed.git-token", "sealed but not referenced by the job"),
        ("$.services[0].env.EXTRA", "references secret 'unused', which the job does not carry"),
    }


def test_a_job_without_a_sealed_section_must_reference_nothing(job: Job) -> None:
    secrets = SealedSecrets(None, provider=EphemeralKeyProvider(), organization_id="o", job_id="j")
    with pytest.raises(SpecError, match="does not carry"):
        secrets.check_job(job)
    secrets.check_references(set())
    with pytest.raises(SecretError, match="no sealed secret named"):
        secrets.open("git-token")


def test_malformed_sealed_section_names_paths(job: Job, provider: KeyProvider) -> None:
    section = {"data_key": {"provider": "local", "version": "1"}, "sealed": {"a": 3}, "x": 1}
    with pytest.raises(SpecError) as caught:
        SealedSecrets(section, provider=provider, organization_id="o", job_id="j")
    paths = {issue.path for issue in caught.value.issues}
    assert {"$.secrets.x", "$.secrets.data_key.version", "$.secrets.sealed.a"} <= paths


def test_opening_is_lazy_per_secret_and_reported_by_name(
    job: Job, plaintext: dict[str, str], provider: LocalKeyProvider
) -> None:
    counting = CountingProvider(provider)
    sealed = seal_job(job, plaintext, counting)
    opened: list[str] = []
    secrets = SealedSecrets.from_job(sealed, counting, on_open=opened.append)
    secrets.check_job(sealed)
    assert counting.unwraps == 0
    assert opened == []
    secrets.open("git-token")
    secrets.open("db-password")
    assert opened == ["git-token", "db-password"]
    assert counting.unwraps == 1


def test_rewrap_moves_onto_the_newest_version_and_keeps_values(
    job: Job, plaintext: dict[str, str], keys_dir: pathlib.Path, provider: LocalKeyProvider
) -> None:
    sealed = seal_job(job, plaintext, provider)
    rotate_key(keys_dir)
    rewrapped = rewrap_job(sealed, LocalKeyProvider(keys_dir))
    assert rewrapped["secrets"]["data_key"]["version"] == 2
    assert (
        rewrapped["secrets"]["data_key"]["ciphertext"]
        != sealed["secrets"]["data_key"]["ciphertext"]
    )
    secrets = SealedSecrets.from_job(rewrapped, LocalKeyProvider(keys_dir))
    assert secrets.open("registry-password").reveal() == plaintext["registry-password"]
    old = SealedSecrets.from_job(sealed, LocalKeyProvider(keys_dir))
    assert old.open("registry-password").reveal() == plaintext["registry-password"]


def test_sandbox_sealing_opens_only_with_its_own_ephemeral_provider(
    job: Job, plaintext: dict[str, str], provider: LocalKeyProvider
) -> None:
    sealed, sandbox = seal_for_sandbox(job, plaintext)
    assert sealed["secrets"]["data_key"]["provider"] == "sandbox"
    assert (
        SealedSecrets.from_job(sealed, sandbox).open("git-token").reveal() == plaintext["git-token"]
    )
    with pytest.raises(SecretError, match="wrapped by provider 'sandbox'"):
        SealedSecrets.from_job(sealed, provider).open("git-token")
    with pytest.raises(SecretError):
        SealedSecrets.from_job(sealed, EphemeralKeyProvider()).open("git-token")
    real = seal_job(job, plaintext, provider)
    with pytest.raises(SecretError, match="not wrapped by this sandbox"):
        SealedSecrets.from_job(real, sandbox).open("git-token")


@pytest.mark.parametrize(
    "value", [42, None, "half \ud800 surrogate"], ids=["int", "null", "surrogate"]
)
def test_seal_refuses_values_that_are_not_text_without_quoting_them(
    job: Job, plaintext: dict[str, Any], provider: LocalKeyProvider, value: object
) -> None:
    plaintext["git-token"] = value
    with pytest.raises(InvalidInputError, match="must be Unicode strings") as caught:
        seal_job(job, plaintext, provider)
    assert "git-token" in str(caught.value)
    assert "\ud800" not in str(caught.value).encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace"
    )
