"""The one place botocore's exceptions become qengine errors, each with a hint.

Callers wrap AWS calls in :func:`translated`; nothing else in the plugin inspects botocore
exceptions except :func:`error_code`, used where a missing resource is an expected answer.
Messages carry the AWS error code and message, never request parameters, and every value in
``hide`` (the credentials in use) is masked in case a service echoes one back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from qengine.plugin import (
    AuthError,
    ConflictError,
    InfrastructureError,
    QengineError,
    QuotaError,
    TransientError,
)

T = TypeVar("T")

_AUTH = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "MissingAuthenticationToken",
        "RequestExpired",
        "SignatureDoesNotMatch",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)
_THROTTLED = frozenset(
    {
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
    }
)
_QUOTA = frozenset({"ServiceQuotaExceededException", "TooManyBuckets", "LimitExceeded"})
_CONFLICT = frozenset(
    {"BucketAlreadyExists", "ConflictException", "ResourceInUseException", "OperationAborted"}
)
_TRANSPORT = (
    "ConnectionClosedError",
    "ConnectTimeoutError",
    "EndpointConnectionError",
    "ReadTimeoutError",
)
_AUTH_HINT = (
    "Check the job's AWS credentials (sealed access_key_id/secret_access_key or the host's "
    "default chain), that role_arn trusts them and that external_id matches the role's trust "
    "policy."
)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` ("" for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(action: str, *, hide: Iterable[str] = ()) -> Iterator[None]:
    """Run the body, turning a botocore or boto3 exception into a qengine error."""
    try:
        yield
    except QengineError:
        raise
    except Exception as exc:
        if not _is_sdk_error(exc):
            raise
        raise translate(exc, action, hide=hide) from exc


def unless_absent(
    fn: Callable[[], T], action: str, *, absent: Collection[str], hide: Iterable[str] = ()
) -> T | None:
    """``fn()``, or None when AWS answers one of the ``absent`` error codes (a missing thing)."""
    try:
        return fn()
    except Exception as exc:
        if not _is_sdk_error(exc):
            raise
        if error_code(exc) in absent:
            return None
        raise translate(exc, action, hide=hide) from exc


def translate(exc: BaseException, action: str, *, hide: Iterable[str] = ()) -> QengineError:
    """The qengine error for ``exc``, raised while doing ``action`` (e.g. "creating bucket x")."""
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return AuthError(f"{action}: no usable AWS credentials ({name})", hint=_AUTH_HINT)
    if name in _TRANSPORT:
        return TransientError(
            _mask(f"{action}: {exc}", hide), hint="Check the network path to AWS and try again."
        )
    code = error_code(exc)
    if not code:
        return InfrastructureError(_mask(f"{action}: {name}", hide))
    text = _mask(f"{action}: {code}: {_message(exc)}", hide)
    return _classify(code, text, _status(exc), _retry_after(exc))


def _classify(code: str, text: str, status: int, retry_after: float | None) -> QengineError:
    if code in _AUTH or (status in (401, 403) and code not in _THROTTLED):
        return AuthError(text, hint=_AUTH_HINT)
    if code in _THROTTLED or status == 429 or status >= 500:
        return TransientError(
            text,
            hint="AWS throttled or failed the request; it is retried.",
            retry_after=retry_after,
        )
    if code in _QUOTA or code.endswith("LimitExceeded") or code.endswith("LimitExceededException"):
        return QuotaError(text)
    if code in _CONFLICT or "AlreadyExists" in code:
        return ConflictError(text, hint="The resource exists or is busy; check its state in AWS.")
    return InfrastructureError(text, hint="See the AWS error code above.")


def _is_sdk_error(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("botocore", "boto3"))


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", {})
    return str(response.get("Error", {}).get("Message", "")) or type(exc).__name__


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", {})
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", {})
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _mask(text: str, hide: Iterable[str]) -> str:
    for secret in hide:
        if secret:
            text = text.replace(secret, "***")
    return text
