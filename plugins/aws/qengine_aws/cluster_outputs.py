"""The cluster's outputs after an apply, typed from ``terraform output -json``.

The real module and the sandbox's stand-ins declare the same outputs. An applying step returns
them as its outputs (strings, as the runner's outputs are); none of them is a secret: the
bearer token is made on demand by :class:`~qengine_aws.token.EksTokenProvider` and never
becomes an output.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

import attrs

from qengine.plugin import InfrastructureError
from qengine.terraform import OutputValue

_PEM = "-----BEGIN CERTIFICATE-----"


@attrs.frozen(kw_only=True)
class ClusterOutputs:
    """What the root module outputs: how to reach the cluster and what it is.

    ``certificate_authority`` is the base64 of the CA's PEM, as EKS reports it.
    """

    cluster_name: str
    endpoint: str
    certificate_authority: str
    oidc_issuer_url: str
    cluster_version: str
    vpc_id: str

    @classmethod
    def of(cls, outputs: Mapping[str, OutputValue]) -> ClusterOutputs:
        """Read them from the driver's outputs; raises if one is missing, sensitive, not a
        string, or if the endpoint or CA is not what a client can use."""
        values = {name.name: _string(outputs, name.name) for name in attrs.fields(cls)}
        return cls(**values)._checked()

    @classmethod
    def of_step(cls, outputs: Mapping[str, str]) -> ClusterOutputs:
        """Read them back from an applying step's outputs (as :meth:`step_outputs` made them);
        raises as :meth:`of` does."""
        missing = [f.name for f in attrs.fields(cls) if f.name not in outputs]
        if missing:
            raise _bad(missing[0], "is missing from the step's outputs")
        return cls(**{f.name: outputs[f.name] for f in attrs.fields(cls)})._checked()

    def _checked(self) -> ClusterOutputs:
        if not self.endpoint.startswith("https://"):
            raise _bad("endpoint", "is not an https:// URL")
        self.ca_pem()
        return self

    def ca_pem(self) -> str:
        """The CA as PEM text."""
        try:
            pem = base64.b64decode(self.certificate_authority, validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError):
            raise _bad("certificate_authority", "is not base64 of a PEM") from None
        if not pem.startswith(_PEM):
            raise _bad("certificate_authority", "is not base64 of a PEM certificate")
        return pem

    def step_outputs(self) -> dict[str, str]:
        """The outputs as a step returns them."""
        return attrs.asdict(self)


def _string(outputs: Mapping[str, OutputValue], name: str) -> str:
    output = outputs.get(name)
    if output is None:
        raise _bad(name, "is missing")
    if output.sensitive or not isinstance(output.value, str):
        raise _bad(name, "is not a plain string")
    return output.value


def _bad(name: str, what: str) -> InfrastructureError:
    return InfrastructureError(
        f"the cluster's Terraform output {name!r} {what}",
        hint="The root module must output cluster_name, endpoint, certificate_authority, "
        "oidc_issuer_url, cluster_version and vpc_id as strings; see docs/aws.md.",
    )
