"""The Terraform driver: runs the real ``terraform`` binary in a job's workspace.

Every command gets an explicit environment (see :mod:`qengine.terraform.environment`), never
``-lock=false``, and a ``-lock-timeout`` (zero by default: a held lock fails at once with
:class:`~qengine.terraform.errors.StateLockedError`). Commands that offer machine-readable
output (``init``, ``plan``, ``apply``) run with ``-json``; their messages are redacted and
handed to ``on_line`` as they arrive, and their diagnostics feed the error classifier.
Cancellation interrupts terraform with SIGINT and waits for it to stop and release its lock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from qengine._errors import CancelledError, InvalidInputError
from qengine.interfaces.cancel import CancelToken
from qengine.terraform import _process
from qengine.terraform.binary import find_terraform
from qengine.terraform.environment import check_backend_config, terraform_env
from qengine.terraform.errors import classify
from qengine.terraform.guard import DestructiveGuard
from qengine.terraform.json_types import Json
from qengine.terraform.messages import Diagnostic, LogLine, parse_text_diagnostics, parse_ui_line
from qengine.terraform.outputs import OutputValue, parse_outputs
from qengine.terraform.plan import Plan, PlanFile, parse_plan
from qengine.terraform.workspace import BACKEND_FILE, Workspace

OnLine = Callable[[LogLine], None]
Redact = Callable[[str], str]
_MASK = "***"
_UNLOCK_FAILED = "Error releasing the state lock"


def _no_redaction(text: str) -> str:
    return text


def _drop(line: LogLine) -> None:
    return None


class Terraform:
    """Terraform commands for one job's workspace. One instance per job; not thread-safe.

    ``credentials`` are environment variables holding secrets (``AWS_SECRET_ACCESS_KEY``...):
    they reach terraform's environment only, and their values are masked in everything the
    driver reports. ``env`` holds non-secret variables (``AWS_REGION``, ``TF_VAR_*``).
    ``redact`` is the job's redactor, applied to every line before ``on_line`` and to every
    error message. ``grace_period`` is how long an interrupted terraform may take to stop.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        cancel: CancelToken,
        on_line: OnLine = _drop,
        redact: Redact = _no_redaction,
        credentials: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        lock_timeout: float = 0.0,
        grace_period: float = 60.0,
        guard: DestructiveGuard | None = None,
        binary: Path | None = None,
    ) -> None:
        self.workspace = workspace
        self.guard = guard or DestructiveGuard()
        self._binary = find_terraform(binary)
        self._cancel = cancel
        self._on_line = on_line
        self._user_redact = redact
        self._credentials = dict(credentials or {})
        self._env = terraform_env(workspace, credentials=self._credentials, extra=env or {})
        self._lock_timeout = f"-lock-timeout={math.ceil(max(lock_timeout, 0.0))}s"
        self._grace = grace_period

    def redact(self, text: str) -> str:
        """Mask the driver's credentials, then apply the job's redactor."""
        for secret in sorted(filter(None, self._credentials.values()), key=len, reverse=True):
            text = text.replace(secret, _MASK)
        return self._user_redact(text)

    def init(self, backend_config: Mapping[str, Json] | None = None) -> None:
        """``terraform init`` with the remote backend the root module declares.

        ``backend_config`` holds the backend's non-secret settings (bucket, key, region,
        endpoints, lock table...); it is refused if it carries a credential. ``None`` uses
        only what the root module says.
        """
        # -reconfigure: a second init never migrates state from one backend to another.
        args = ["init", "-input=false", "-json", "-no-color", "-reconfigure", self._lock_timeout]
        if backend_config is not None:
            if self.workspace.backend_type is None:
                raise InvalidInputError(
                    "backend settings were given but the root module declares no backend",
                    hint='Add {"terraform": {"backend": {"s3": {}}}} to the root module.',
                )
            check_backend_config(backend_config, self._credentials)
            self.workspace.write_backend_config(backend_config)
            args.append(f"-backend-config={BACKEND_FILE}")
        self._run_ui("init", args)

    def plan(self, *, out: str = "plan.tfplan", destroy: bool = False) -> PlanFile:
        """Plan into the file ``out`` (relative to the workspace); a destroy plan if asked."""
        args = ["plan", "-input=false", "-json", "-detailed-exitcode", self._lock_timeout]
        args += [f"-out={out}"] + (["-destroy"] if destroy else [])
        completed = self._run_ui("plan", args, ok=(0, 2))
        path = self.workspace.path / out
        return PlanFile(path=path, destroy=destroy, has_changes=completed.returncode == 2)

    def show_plan(self, plan: PlanFile) -> Plan:
        """The typed resource changes of ``plan`` (``terraform show -json``)."""
        completed = self._run_text("show", ["show", "-json", "-no-color", str(plan.path)])
        return parse_plan("\n".join(completed.stdout))

    def apply(self, plan: PlanFile) -> Plan:
        """Apply exactly ``plan``, after the destructive-change guard passed it."""
        changes = self.show_plan(plan)
        self.guard.check(changes, destroying=plan.destroy)
        self._run_ui(
            "apply", ["apply", "-input=false", "-json", self._lock_timeout, str(plan.path)]
        )
        return changes

    def destroy(self) -> Plan:
        """Destroy everything in the state: ``plan -destroy`` then apply of that plan."""
        return self.apply(self.plan(out="destroy.tfplan", destroy=True))

    def outputs(self) -> dict[str, OutputValue]:
        """The root module's outputs (``terraform output -json``); never streamed."""
        completed = self._run_text("output", ["output", "-json", "-no-color"])
        return parse_outputs("\n".join(completed.stdout))

    def _run_ui(
        self, command: str, args: list[str], ok: Sequence[int] = (0,)
    ) -> _process.Completed:
        diagnostics: list[Diagnostic] = []

        def on_stdout(raw: str) -> None:
            message = parse_ui_line(raw)
            if message.diagnostic is not None:
                diagnostics.append(message.diagnostic)
            self._emit(message.line)

        completed = self._run(command, args, on_stdout)
        for line in completed.stderr:
            self._emit(LogLine(level="warn", text=line))
        if completed.returncode not in ok:
            fallback = "\n".join(completed.stderr)
            raise classify(diagnostics, command=command, redact=self.redact, fallback=fallback)
        return completed

    def _run_text(self, command: str, args: list[str]) -> _process.Completed:
        completed = self._run(command, args, None)
        if completed.returncode != 0:
            diagnostics = parse_text_diagnostics(completed.stderr)
            fallback = "\n".join(completed.stderr)
            raise classify(diagnostics, command=command, redact=self.redact, fallback=fallback)
        return completed

    def _run(
        self, command: str, args: list[str], on_stdout: _process.LineCallback | None
    ) -> _process.Completed:
        self._cancel.raise_if_cancelled()
        completed = _process.run(
            [str(self._binary), *args],
            cwd=self.workspace.path,
            env=self._env,
            cancel=self._cancel,
            grace=self._grace,
            on_stdout=on_stdout,
        )
        if completed.interrupted:
            raise _cancelled(command, completed, self._cancel.reason)
        return completed

    def _emit(self, line: LogLine) -> None:
        self._on_line(attrs.evolve(line, text=self.redact(line.text)))


def _cancelled(command: str, completed: _process.Completed, reason: str) -> CancelledError:
    if completed.killed:
        return CancelledError(
            f"terraform {command} was killed after cancellation ({reason})",
            hint="Terraform did not stop within the grace period, so its state lock may still"
            " be held: check the lock and release it with `terraform force-unlock` if needed.",
        )
    if any(_UNLOCK_FAILED in line for line in (*completed.stdout, *completed.stderr)):
        return CancelledError(
            f"terraform {command} was interrupted ({reason}) but could not release its lock",
            hint="Release the state lock with `terraform force-unlock` (its id is in the"
            " job's output) before running the job again.",
        )
    return CancelledError(
        f"terraform {command} was interrupted ({reason}); it stopped and released its lock",
        hint="Run the job again to converge; resources Terraform had started may be tainted"
        " and will be replaced.",
    )
