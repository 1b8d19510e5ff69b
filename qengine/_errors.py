"""The qengine exception tree.

Every error the engine raises on purpose derives from :class:`QengineError`. Plugins translate
their SDK's exceptions into these classes in one place each (``raise ... from exc``), so a host
only ever needs to catch this tree::

    QengineError                    root; carries a user-facing ``hint`` and an ``exit_code``
    ├── InvalidInputError           bad JSON, bad spec, unknown plugin kind  (exit 2)
    │   ├── SpecError               one or more ``$.path: message`` issues
    │   └── JobRefusedError         unsigned, tampered, expired or replayed job
    ├── PluginError                 a plugin failed to load, register or behave
    ├── SecretError                 a secret could not be sealed or opened
    ├── InfrastructureError         a cloud or cluster operation failed
    │   ├── AuthError               credentials missing, expired or refused
    │   ├── QuotaError              a quota or limit was exceeded
    │   ├── ConflictError           the resource exists or is in a conflicting state
    │   └── TransientError          throttling, 429/5xx, reset connection  (retryable)
    ├── BuildError                  a source fetch or image build failed
    ├── DeploymentError             a rollout failed (and was rolled back)
    ├── TargetLockedError           another job holds the target's lock  (exit 4)
    └── CancelledError              the job was cancelled  (exit 3)

Whether an error may be retried is a property of its class (:attr:`QengineError.retryable`);
the one retry policy reads it and nothing else decides.

Messages must never contain secret values: they are shown to users, written to events and
to the audit log. The redactor is applied as a last line of defence, not as a licence.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

__all__ = [
    "AuthError",
    "BuildError",
    "CancelledError",
    "ConflictError",
    "DeploymentError",
    "InfrastructureError",
    "InvalidInputError",
    "JobRefusedError",
    "PluginError",
    "QengineError",
    "QuotaError",
    "SecretError",
    "SpecError",
    "SpecIssue",
    "TargetLockedError",
    "TransientError",
]


class QengineError(Exception):
    """Root of every error qengine raises on purpose.

    ``message`` says what went wrong; ``hint`` says what the user can do about it.
    """

    exit_code: ClassVar[int] = 1
    retryable: ClassVar[bool] = False
    default_hint: ClassVar[str] = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return self.message


class InvalidInputError(QengineError):
    """The input (file, JSON, spec, option) is not acceptable; nothing was applied."""

    exit_code = 2


@attrs.frozen
class SpecIssue:
    """One problem in a job spec: where (a JSONPath such as ``$.services[0].name``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(InvalidInputError):
    """A job spec failed validation; ``issues`` holds every problem found, not only the first."""

    default_hint = "Fix the fields named above; `qengine schema` prints what each accepts."

    def __init__(self, issues: list[SpecIssue], *, hint: str | None = None) -> None:
        self.issues = sorted(set(issues), key=lambda issue: (issue.path, issue.message))
        count = len(self.issues)
        summary = f"the job spec is invalid ({count} problem{'s' if count != 1 else ''})"
        body = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{summary}:\n{body}" if body else summary, hint=hint)


class JobRefusedError(InvalidInputError):
    """The job is not authentic or not fresh: unsigned, tampered, expired or replayed."""


class PluginError(QengineError):
    """A plugin failed to load, to register, or broke its contract."""

    default_hint = "Run `qengine plugins` to see which plugins are loaded and which failed."


class SecretError(QengineError):
    """A secret could not be sealed, unwrapped or opened (wrong key, job or organization)."""


class InfrastructureError(QengineError):
    """A cloud, cluster or registry operation failed."""


class AuthError(InfrastructureError):
    """Credentials are missing, expired, or were refused."""

    default_hint = "Check the job's credentials and the role or permissions they grant."


class QuotaError(InfrastructureError):
    """A quota or service limit was exceeded."""

    default_hint = "Raise the quota with your provider or lower what the job asks for."


class ConflictError(InfrastructureError):
    """The resource already exists, or is in a state that conflicts with the change."""


class TransientError(InfrastructureError):
    """A failure that may pass on its own: throttling, HTTP 429/5xx, a reset connection.

    ``retry_after`` is the server's hint in seconds, when it gave one.
    """

    retryable = True

    def __init__(
        self, message: str, *, hint: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class BuildError(QengineError):
    """Fetching source or building an image failed."""


class DeploymentError(QengineError):
    """A service failed to roll out."""


class TargetLockedError(QengineError):
    """Another job holds the lock of this job's target (cluster or environment)."""

    exit_code = 4
    default_hint = "Wait for the other job to finish, or pass --wait-lock SECONDS."


class CancelledError(QengineError):
    """The job was cancelled before it finished."""

    exit_code = 3
