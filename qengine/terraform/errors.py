"""Turning Terraform's diagnostics into typed qengine errors with hints.

Input is the list of error diagnostics a command produced: from its ``-json`` UI stream for
``init``/``plan``/``apply`` (structured ``summary``/``detail``/``address``), or parsed from
``-no-color`` stderr for the commands that have no such stream. The classifier matches the
cloud API error codes and Terraform's own summaries, which are stable across provider
releases, rather than whole sentences. Rules are tried in order; the first that matches any
error diagnostic picks the class. Throttling is tried before quotas because EC2 spells its
throttling ``RequestLimitExceeded``.

Every message passes through the job's redactor before it is put in an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import attrs

from qengine._errors import (
    AuthError,
    ConflictError,
    InfrastructureError,
    InvalidInputError,
    QengineError,
    QuotaError,
    TargetLockedError,
    TransientError,
)
from qengine.terraform.messages import Diagnostic
from qengine.terraform.settings import TerraformSettingsError

_MAX_MESSAGE = 4000


class TerraformError(InfrastructureError):
    """A terraform command failed for a reason the classifier does not single out."""

    default_hint = "Read Terraform's diagnostics above; the job's events hold its full output."


class MalformedOutputError(InfrastructureError):
    """Terraform printed something that is not the JSON document the driver expected."""

    default_hint = "Check that the terraform binary is version 1.11 or later."


class DependencyViolationError(ConflictError):
    """A resource cannot be deleted or changed while something else still depends on it."""


@attrs.frozen(kw_only=True)
class LockInfo:
    """Who holds a Terraform state lock, as Terraform reports it (fields may be empty)."""

    id: str = ""
    path: str = ""
    operation: str = ""
    who: str = ""
    created: str = ""


class StateLockedError(TargetLockedError):
    """Another Terraform run holds the state lock; ``lock`` says which run."""

    def __init__(self, message: str, *, hint: str | None = None, lock: LockInfo) -> None:
        super().__init__(message, hint=hint)
        self.lock = lock


Redact = Callable[[str], str]
_Factory = Callable[[str, str], QengineError]


def _pattern(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


_AUTH = _pattern(
    r"InvalidClientTokenId", r"SignatureDoesNotMatch", r"ExpiredToken", r"InvalidAccessKeyId",
    r"UnrecognizedClientException", r"AuthFailure", r"No valid credential sources found",
    r"NoCredentialProviders", r"security token included in the request is",
    r"AccessDenied", r"UnauthorizedOperation", r"not authorized to perform",
    r"StatusCode: 40[13]\b", r"AuthorizationFailed", r"invalid_grant", r"AADSTS\d+",
    r"googleapi: Error 40[13]",
)  # fmt: skip
_THROTTLE = _pattern(
    r"Throttl", r"RequestLimitExceeded", r"TooManyRequests", r"Rate exceeded", r"SlowDown",
    r"PriorRequestNotComplete", r"StatusCode: (429|50[234])\b", r"ServiceUnavailable",
    r"rateLimitExceeded", r"connection reset by peer", r"i/o timeout", r"googleapi: Error 429",
)  # fmt: skip
_QUOTA = _pattern(
    r"LimitExceeded", r"QuotaExceeded", r"limit exceeded", r"exceeds? (the )?quota",
    r"Cannot exceed quota", r"TooManyBuckets", r"maximum number of \w+ has been reached",
)  # fmt: skip
_CONFLICT = _pattern(
    r"AlreadyExists", r"already exists", r"BucketAlreadyOwnedByYou", r"\.Duplicate\b",
    r"EntityAlreadyExists",
)  # fmt: skip
_DEPENDENCY = _pattern(
    r"DependencyViolation", r"has dependencies and cannot be deleted", r"DeleteConflict",
    r"dependent object", r"ResourceInUse", r"currently in use",
)  # fmt: skip
_INVALID = _pattern(
    r"InvalidSubnet\.(Range|Conflict)", r"InvalidVpc\.Range", r"invalid CIDR",
    r"not a valid CIDR", r"InvalidParameterValue", r"InvalidParameterCombination",
    r"InvalidParameterException", r"InvalidInstanceType", r"instance type .* not supported",
    r"Unsupported instance type", r"ValidationException",
)  # fmt: skip
_MISSING_BUCKET = _pattern(r"NoSuchBucket", r"S3 bucket \"?[^\s\"]+\"? does not exist")
_LOCK = _pattern(r"Error acquiring the state lock", r"Error locking state")
_STALE_PLAN = _pattern(r"Saved plan is stale")
# The configured sources (mirror, or none at all) cannot serve a provider the module requires.
_NO_PROVIDER = _pattern(
    r"was not found in any of the search locations",
    r"no available releases match the given constraints",
)


def _auth(message: str, detail: str) -> QengineError:
    return AuthError(message)


def _throttled(message: str, detail: str) -> QengineError:
    return TransientError(
        message, hint="The cloud API throttled or was briefly unavailable; retrying should pass."
    )


def _quota(message: str, detail: str) -> QengineError:
    return QuotaError(message)


def _conflict(message: str, detail: str) -> QengineError:
    return ConflictError(
        message,
        hint="A resource of that name already exists outside this state: import it into the"
        " state, delete it, or choose another name.",
    )


def _dependency(message: str, detail: str) -> QengineError:
    return DependencyViolationError(
        message,
        hint="Something outside Terraform still uses the resource (for example load balancers,"
        " security groups or network interfaces created by the cluster's controllers): remove"
        " those first, then run the job again.",
    )


def _invalid(message: str, detail: str) -> QengineError:
    return InvalidInputError(
        message,
        hint="Fix the value the cloud rejected: CIDR blocks must be valid, inside the VPC,"
        " non-overlapping and large enough; instance types must exist in the region.",
    )


def _missing_bucket(message: str, detail: str) -> QengineError:
    return InfrastructureError(
        message,
        hint="The state bucket does not exist: bootstrap the state backend first, or fix the"
        " bucket name and region of the backend configuration.",
    )


def _stale_plan(message: str, detail: str) -> QengineError:
    return ConflictError(
        message,
        hint="Another run changed the state after this plan was made; plan again and review"
        " the new plan before applying it.",
    )


def _no_provider(message: str, detail: str) -> QengineError:
    return TerraformSettingsError(
        message,
        hint="The engine's provider sources do not hold a provider this module requires:"
        " add it to the provider mirror (`terraform providers mirror DIR` in a directory"
        " holding the module), or give --terraform-provider-mirror DIR or"
        " --terraform-plugin-cache DIR (Engine settings: TerraformSettings).",
    )


def _locked(message: str, detail: str) -> QengineError:
    lock = parse_lock_info(detail)
    holder = f" (held by {lock.who} for {lock.operation} since {lock.created})" if lock.who else ""
    return StateLockedError(
        f"{message}\nlock id: {lock.id or 'unknown'}{holder}",
        lock=lock,
        hint="Another Terraform run holds the state lock. Wait for it to finish or give a lock"
        " timeout; only if that run is known to be dead, release the lock with"
        f" `terraform force-unlock {lock.id or 'LOCK_ID'}` on the same backend.",
    )


_RULES: tuple[tuple[re.Pattern[str], _Factory], ...] = (
    (_LOCK, _locked),
    (_STALE_PLAN, _stale_plan),
    (_MISSING_BUCKET, _missing_bucket),
    (_THROTTLE, _throttled),
    (_NO_PROVIDER, _no_provider),
    (_AUTH, _auth),
    (_QUOTA, _quota),
    (_CONFLICT, _conflict),
    (_DEPENDENCY, _dependency),
    (_INVALID, _invalid),
)

_LOCK_FIELDS = {"ID": "id", "Path": "path", "Operation": "operation", "Who": "who"}


def parse_lock_info(detail: str) -> LockInfo:
    """Read the ``Lock Info:`` block Terraform prints with a lock error."""
    fields: dict[str, str] = {}
    for key, value in re.findall(r"^\s*(ID|Path|Operation|Who|Created):[ \t]*(.*)$", detail, re.M):
        fields[_LOCK_FIELDS.get(key, "created")] = value.strip()
    return LockInfo(**fields)


def classify(
    diagnostics: Sequence[Diagnostic], *, command: str, redact: Redact, fallback: str = ""
) -> QengineError:
    """The typed error for a failed ``terraform <command>``.

    ``diagnostics`` are what the command reported (warnings are ignored); ``fallback`` is raw
    output used when it reported no error diagnostic (a crash, an unexpected message).
    """
    errors = [d for d in diagnostics if d.severity == "error"]
    body = "\n".join(d.render() for d in errors) or fallback.strip() or "no diagnostics"
    message = redact(f"terraform {command} failed:\n{body}")[:_MAX_MESSAGE]
    texts = [f"{d.summary}\n{d.detail}" for d in errors] or [fallback]
    for pattern, factory in _RULES:
        hit = next((text for text in texts if pattern.search(text)), None)
        if hit is not None:
            return factory(message, redact(hit))
    return TerraformError(message)
