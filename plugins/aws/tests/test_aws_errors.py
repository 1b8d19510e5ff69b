"""botocore's errors become typed qengine errors, with hints and without credentials."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from qengine_aws.errors import translate, translated

from qengine import (
    AuthError,
    ConflictError,
    InfrastructureError,
    QuotaError,
    TransientError,
)


def _client_error(code: str, status: int = 400, **headers: str) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} happened for AKIASECRET/xyz"},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
    }
    return ClientError(response, "SomeOperation")


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("InvalidClientTokenId", 403, AuthError),
        ("ExpiredToken", 400, AuthError),
        ("AccessDenied", 403, AuthError),
        ("Throttling", 400, TransientError),
        ("RequestLimitExceeded", 400, TransientError),
        ("ThrottlingException", 403, TransientError),
        ("InternalError", 500, TransientError),
        ("VpcLimitExceeded", 400, QuotaError),
        ("ServiceQuotaExceededException", 402, QuotaError),
        ("RepositoryAlreadyExistsException", 400, ConflictError),
        ("ResourceInUseException", 400, ConflictError),
        ("ValidationError", 400, InfrastructureError),
    ],
)
def test_codes_become_typed_errors(code: str, status: int, kind: type[Exception]) -> None:
    error = translate(_client_error(code, status), "doing a thing")
    assert type(error) is kind
    assert code in str(error)
    assert error.hint


def test_throttling_carries_retry_after() -> None:
    error = translate(_client_error("SlowDown", 503, **{"retry-after": "7"}), "reading")
    assert isinstance(error, TransientError)
    assert error.retry_after == 7.0
    assert error.retryable


def test_credentials_are_masked_in_messages() -> None:
    error = translate(_client_error("AccessDenied", 403), "reading", hide=("AKIASECRET",))
    assert "AKIASECRET" not in str(error)
    assert "***" in str(error)


def test_missing_credentials_and_unreachable_endpoints() -> None:
    assert isinstance(translate(NoCredentialsError(), "x"), AuthError)
    unreachable = translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), "x")
    assert isinstance(unreachable, TransientError)


def test_translated_chains_the_sdk_error_and_leaves_others_alone() -> None:
    with pytest.raises(AuthError) as caught, translated("calling"):
        raise _client_error("InvalidClientTokenId", 403)
    assert isinstance(caught.value.__cause__, ClientError)
    with pytest.raises(KeyError), translated("calling"):
        raise KeyError("not an SDK error")
