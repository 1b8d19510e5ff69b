"""The cluster's outputs as read from ``terraform output -json``."""

from __future__ import annotations

import base64

import pytest
from qengine_aws.cluster_outputs import ClusterOutputs

from qengine.plugin import InfrastructureError
from qengine.terraform import OutputValue

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _outputs(**changed: OutputValue) -> dict[str, OutputValue]:
    values = {
        "cluster_name": "prod-eu",
        "endpoint": "https://ABC.gr7.eu-west-3.eks.amazonaws.com",
        "certificate_authority": base64.b64encode(PEM.encode()).decode(),
        "oidc_issuer_url": "https://oidc.eks.eu-west-3.amazonaws.com/id/ABC",
        "cluster_version": "1.32",
        "vpc_id": "vpc-0123",
    }
    found = {k: OutputValue(value=v, sensitive=False, type="string") for k, v in values.items()}
    found.update(changed)
    return found


def test_complete_outputs_become_the_step_outputs() -> None:
    outputs = ClusterOutputs.of(_outputs())
    assert outputs.ca_pem() == PEM
    assert outputs.step_outputs()["oidc_issuer_url"].endswith("/id/ABC")
    assert sorted(outputs.step_outputs()) == [
        "certificate_authority",
        "cluster_name",
        "cluster_version",
        "endpoint",
        "oidc_issuer_url",
        "vpc_id",
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("endpoint", OutputValue(value="http://x", sensitive=False, type="string"), "https"),
        ("endpoint", OutputValue(value=["a"], sensitive=False, type="list"), "plain string"),
        ("cluster_name", OutputValue(value="x", sensitive=True, type="string"), "plain string"),
        ("certificate_authority", OutputValue(value="%%", sensitive=False, type="string"), "PEM"),
        (
            "certificate_authority",
            OutputValue(value=base64.b64encode(b"hello").decode(), sensitive=False, type="string"),
            "PEM certificate",
        ),
    ],
)
def test_unusable_outputs_are_refused(name: str, value: OutputValue, message: str) -> None:
    with pytest.raises(InfrastructureError, match=message):
        ClusterOutputs.of(_outputs(**{name: value}))


def test_a_missing_output_is_named() -> None:
    outputs = _outputs()
    del outputs["oidc_issuer_url"]
    with pytest.raises(InfrastructureError, match="'oidc_issuer_url' is missing"):
        ClusterOutputs.of(outputs)


def test_a_steps_outputs_read_back_as_they_were_made() -> None:
    made = ClusterOutputs.of(_outputs())
    assert ClusterOutputs.of_step(made.step_outputs()) == made
    incomplete = {k: v for k, v in made.step_outputs().items() if k != "vpc_id"}
    with pytest.raises(InfrastructureError, match="'vpc_id' is missing"):
        ClusterOutputs.of_step(incomplete)
    with pytest.raises(InfrastructureError, match="https"):
        ClusterOutputs.of_step({**made.step_outputs(), "endpoint": "http://x"})
