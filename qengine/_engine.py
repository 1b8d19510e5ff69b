"""The embedding API: an :class:`Engine` accepts, plans and runs jobs.

``Engine.run(document)`` does, in order: verify the signature when trust is configured (a
refusal is audited), validate the spec with the plugins' sections and policies, check the
sealed secrets against the references, ask the plugins for steps, then hand the plan to the
runner under the target's lock, and audit what happened. Nothing is applied before every check
has passed. An engine holds no per-job state: several jobs may run at once on threads.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from types import MappingProxyType
from typing import Any, NoReturn

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from qengine._errors import (
    InvalidInputError,
    JobRefusedError,
    PluginError,
    QengineError,
    SecretError,
    SpecError,
    TargetLockedError,
)
from qengine._events import Event
from qengine._job_secrets import JobSecrets
from qengine._plugins import PluginSet
from qengine._registry import KEY_PROVIDER
from qengine._services import JobServices
from qengine._session import SandboxSession
from qengine.audit.records import job_refused, timestamp, utc_now
from qengine.interfaces.audit import AuditRecord, AuditSink
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.events import EventSink
from qengine.interfaces.keys import KeyProvider
from qengine.interfaces.lease import TargetLease
from qengine.interfaces.state import StateStore, StepState
from qengine.runner import (
    CallbackSink,
    Executor,
    JobRef,
    JobResult,
    MemoryStateStore,
    Plan,
    Step,
)
from qengine.runner.outputs import with_redacted_outputs
from qengine.runner.plan import PlanReport, StepPreview, done_steps
from qengine.secrets.sandbox import seal_for_sandbox
from qengine.secrets.signing import DEFAULT_CLOCK_SKEW, JobRefused, verify_job
from qengine.secrets.unsealing import SealedSecrets
from qengine.spec import EnvironmentJob, Job, secret_references


@attrs.frozen(kw_only=True)
class Trust:
    """Which control planes the engine trusts: their Ed25519 public keys, by key id."""

    keys: Mapping[str, Ed25519PublicKey]
    clock_skew: datetime.timedelta = DEFAULT_CLOCK_SKEW


@attrs.frozen(kw_only=True)
class AcceptedJob:
    """A job that passed every check: authentic (if trust is set), valid, secrets consistent."""

    job: Job
    services: JobServices


def _leases(accepted: AcceptedJob) -> list[TargetLease]:
    """The lease the job's engine takes on its target, if it has one."""
    job, services = accepted.job, accepted.services
    if isinstance(job, EnvironmentJob):
        lease = services.env_engine().lease(job)
    else:
        lease = services.infra_engine().lease(job)
    return [lease] if lease is not None else []


def target_of(job: Job) -> str:
    """The lock target of ``job``: its environment or its cluster."""
    if isinstance(job, EnvironmentJob):
        return f"environment/{job.environment.id}"
    return f"cluster/{job.cluster.id}"


class Engine:
    """Accepts, plans and runs jobs with a set of plugins, a state store and a key provider."""

    def __init__(
        self,
        plugins: PluginSet,
        *,
        store: StateStore,
        key_provider: KeyProvider | None = None,
        trust: Trust | None = None,
        audit: AuditSink | None = None,
        settings: Mapping[str, object] | None = None,
        clock: Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self.plugins = plugins
        self.settings: Mapping[str, object] = dict(settings or {})
        self.store = store
        self.key_provider = key_provider
        self.trust = trust
        self.audit = audit
        self._clock = clock

    def accept(
        self,
        document: Mapping[str, Any],
        *,
        sandbox_secrets: Mapping[str, str] | None = None,
        consume: bool = True,
        sandbox: ExitStack | SandboxSession | None = None,
    ) -> AcceptedJob:
        """Check ``document`` and return the accepted job; nothing is applied.

        ``sandbox_secrets`` (plain text) is only for sandbox runs: the job is sealed in memory
        under an ephemeral key no other process holds. With ``consume=False`` (a plan) a signed
        job's id is not recorded, so planning it does not make running it a replay. ``sandbox``
        makes this a sandbox run: the plugins start their stand-ins in that session (or on that
        exit stack, a session of its own), or reuse those an earlier job of the session started.
        A refused job (any :class:`~qengine.InvalidInputError`) leaves a ``job.refused`` audit
        record whatever the reason.
        """
        try:
            return self._accept(
                document, sandbox_secrets=sandbox_secrets, consume=consume, sandbox=sandbox
            )
        except InvalidInputError as exc:
            if self.audit is not None:
                job_id, actor_id = _identity(document)
                reason = _reason_of(exc)
                self.audit.append(job_refused(job_id, actor_id, reason, clock=self._clock))
            raise

    def _accept(
        self,
        document: Mapping[str, Any],
        *,
        sandbox_secrets: Mapping[str, str] | None,
        consume: bool,
        sandbox: ExitStack | SandboxSession | None,
    ) -> AcceptedJob:
        if self.trust is not None:
            self._verify(document, consume=consume)
        job = self.plugins.loader.load(document)
        provider = self.key_provider
        if sandbox_secrets is not None:
            unsealed = {k: v for k, v in document.items() if k not in ("secrets", "signature")}
            document, provider = seal_for_sandbox(unsealed, sandbox_secrets)
        try:
            sealed = self._sealed(document, job, provider)
        except SecretError as exc:  # a sealed section that cannot be opened: nothing runs
            raise JobRefused("sealed", exc.message, hint=exc.hint) from None
        secrets = JobSecrets(sealed, on_open=lambda name: self._audit_unsealed(job, name))
        settings = dict(self.settings)
        session: SandboxSession | None = None
        if sandbox is not None:
            session = sandbox if isinstance(sandbox, SandboxSession) else _session_on(sandbox)
            hook = self.plugins.manager.hook.qengine_sandbox
            host = MappingProxyType(dict(self.settings))
            for given in hook(job=job, stack=session.stack, session=session, settings=host):
                settings.update(given or {})
        services = JobServices(
            job=job,
            secrets=secrets,
            registry=self.plugins.registry,
            settings=settings,
            session=session if sandbox is not None else None,
        )
        return AcceptedJob(job=job, services=services)

    def plan(self, accepted: AcceptedJob) -> Plan:
        """The DAG of the job's steps; building it runs nothing.

        An environment job's steps are its build steps (one per application service, through
        the ``build`` section's backend and the ``registry`` section's registry) and its
        target's :class:`~qengine.interfaces.EnvEngine` plan; an infrastructure job's are its
        cloud provider's :class:`~qengine.interfaces.InfraEngine` plan. Plugins may add steps
        to any job (``qengine_plan_steps``).
        """
        job, services = accepted.job, accepted.services
        steps: list[Step] = []
        if isinstance(job, EnvironmentJob):
            if job.build is not None:
                from qengine.source.pipeline import build_steps

                steps.extend(build_steps(job, services))
            steps.extend(services.env_engine().plan(job))
        else:
            steps.extend(services.infra_engine().plan(job))
        contributions = self.plugins.manager.hook.qengine_plan_steps(job=job, services=services)
        steps.extend(step for extra in contributions if extra for step in extra)
        if not steps:
            raise PluginError(
                f"the plugin of this {job.kind} ({_describe_target(job)}) planned no step",
                hint="An engine's action must return the steps that carry it out.",
            )
        return Plan(steps)

    def preview(self, accepted: AcceptedJob, plan: Plan, *, offline: str = "") -> PlanReport:
        """What each step of ``plan`` would change: a :class:`~qengine.runner.plan.PlanReport`.

        Steps an earlier run of the same job finished (the journal, as ``run`` reads it) are
        shown as done. The others are asked of the job's engine
        (:meth:`~qengine.interfaces.EnvEngine.preview`), which reaches its target without a
        mutating request; unless ``offline`` gives a reason not to ask, in which case every
        step not done is shown as not known, for that reason.
        """
        job, services = accepted.job, accepted.services
        records = [
            (r.step_id, r.idempotency_key, r.status is StepState.SUCCEEDED)
            for r in self.store.step_records(job.id)
        ]
        done = done_steps(plan, records, job.id)
        previews: Mapping[str, StepPreview] = {}
        if not offline:
            pending = [step for step in plan.steps if step.id not in set(done)]
            if isinstance(job, EnvironmentJob):
                previews = services.env_engine().preview(job, pending)
            else:
                previews = services.infra_engine().preview(job, pending)
        return PlanReport(plan, previews, done=done, offline=offline)

    def run(
        self,
        document: Mapping[str, Any],
        *,
        on_event: Callable[[Event], None] | None = None,
        sinks: Sequence[EventSink] = (),
        cancel: CancelToken | None = None,
        wait_lock: float = 0.0,
        sandbox_secrets: Mapping[str, str] | None = None,
        sandbox: bool | SandboxSession = False,
    ) -> JobResult:
        """Accept, plan and run ``document``; resumes the job if it was interrupted before.

        Raises :class:`~qengine.InvalidInputError` (nothing applied) for a refused or invalid
        job, :class:`~qengine.TargetLockedError` when another job holds the target. Every other
        outcome, failure and cancellation included, is the returned :class:`JobResult`.
        ``sandbox=True`` runs the job against the plugins' in-process stand-ins
        (``qengine_sandbox``), which are stopped when the run ends; a :class:`SandboxSession`
        runs it against that session's stand-ins, which outlive the run until the host closes
        the session (so the next job of the session finds the cluster this one made).

        With ``sandbox=True`` the run's journal and locks are kept in memory for that run only,
        not in the engine's store: they describe stand-ins that end with the run, so running
        the same job again deploys again (from the engine's store it would find every step done
        and skip them against empty stand-ins). A session's runs use the engine's store.
        """
        with SandboxSession() as own:
            session = sandbox if isinstance(sandbox, SandboxSession) else own
            return self._run(
                document,
                on_event=on_event,
                sinks=sinks,
                cancel=cancel,
                wait_lock=wait_lock,
                sandbox_secrets=sandbox_secrets,
                sandbox=session if sandbox is not False else None,
                journal=MemoryStateStore() if sandbox is True else self.store,
            )

    def _run(
        self,
        document: Mapping[str, Any],
        *,
        on_event: Callable[[Event], None] | None,
        sinks: Sequence[EventSink],
        cancel: CancelToken | None,
        wait_lock: float,
        sandbox_secrets: Mapping[str, str] | None,
        sandbox: SandboxSession | None,
        journal: StateStore,
    ) -> JobResult:
        accepted = self.accept(document, sandbox_secrets=sandbox_secrets, sandbox=sandbox)
        job = accepted.job
        plan = self._masking_outputs(self.plan(accepted), accepted)
        all_sinks = [*sinks, *([CallbackSink(on_event)] if on_event is not None else [])]
        executor = Executor(
            store=journal, max_parallel=job.max_parallel, lock_wait_seconds=wait_lock
        )
        ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id=target_of(job))
        with self._job_lock(job, wait_lock, cancel, journal):
            self._record(job, "job.accepted", outcome="ok", job_action=job.action.value)
            try:
                result = executor.run(
                    plan,
                    ref,
                    sinks=all_sinks,
                    redact=accepted.services.secrets.redact,
                    cancel=cancel,
                    leases=_leases(accepted),
                )
            except QengineError as exc:  # locked or cancelled before the first step: nothing ran
                self._record(job, "job.finished", outcome=type(exc).__name__)
                raise
            self._audit_result(job, plan, result)
            journal.finish_job(job.id, result.status.value)
        return result

    @contextmanager
    def _job_lock(
        self, job: Job, wait: float, cancel: CancelToken | None, store: StateStore
    ) -> Iterator[None]:
        """Hold the job's own lock from before its first step until its end is recorded.

        Two runs of one job id never overlap. For a signed job (trust configured), a run that
        finds the job running in another live process (without ``wait``), or finds it ended
        once it gets the lock, is refused as a replay: a signed job runs to its end once, and
        only an interrupted run (its process died) is resumed, from its journal.
        """
        # An owner of its own: a store may keep one lease per owner, and the executor takes the
        # target's lock for the job id while this one is held.
        name, owner = f"job/{job.id}", f"{job.id}/run"
        try:
            store.acquire_lock(name, owner, wait_seconds=wait, cancel=cancel)
        except TargetLockedError:
            if self.trust is None:
                raise
            self._refuse_replay(job, "is running in another process")
        try:
            if self.trust is not None and store.job_status(job.id) is not None:
                self._refuse_replay(job, "has already run to its end")
            yield
        finally:
            store.release_lock(name, owner)

    def _refuse_replay(self, job: Job, why: str) -> NoReturn:
        if self.audit is not None:
            self.audit.append(job_refused(job.id, job.actor.id, "replayed", clock=self._clock))
        raise JobRefused(
            "replayed",
            f"job {job.id!r} {why}: refusing a replay",
            hint="A signed job runs once. Ask the control plane for a new job.",
        )

    @staticmethod
    def _masking_outputs(plan: Plan, accepted: AcceptedJob) -> Plan:
        """The plan whose steps return their outputs redacted (see ``runner.outputs``)."""
        redact = accepted.services.secrets.redact
        return Plan([with_redacted_outputs(step, redact) for step in plan.steps])

    def _verify(self, document: Mapping[str, Any], *, consume: bool) -> None:
        assert self.trust is not None

        def accept_once(candidate: str) -> bool:
            # A job accepted before but never finished was interrupted: running it again
            # resumes it. One that finished is a replay.
            if not consume:
                return self.store.job_status(candidate) is None
            first = self.store.accept_job_once(candidate)
            return first or self.store.job_status(candidate) is None

        try:
            verify_job(
                document,
                self.trust.keys,
                now=self._clock(),
                accept_once=accept_once,
                clock_skew=self.trust.clock_skew,
            )
        except JobRefusedError:
            raise
        except (InvalidInputError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            # What cannot be canonicalized or read is refused like any malformed job: the
            # message names the class of problem only, never the job's content.
            raise JobRefused(
                "malformed",
                f"the job cannot be verified: {_kind_of_problem(exc)}",
                hint="Sign a job that qengine validate accepts (integers within +/-(2^53-1), "
                "no lone surrogates, dates within years 1-9999).",
            ) from None

    def _sealed(
        self, document: Mapping[str, Any], job: Job, provider: KeyProvider | None
    ) -> SealedSecrets | None:
        referenced = {name for _, name in secret_references(job)}
        if document.get("secrets") is None:
            if referenced:
                raise InvalidInputError(
                    f"the job references secrets ({', '.join(sorted(referenced))}) but carries "
                    "no sealed secrets",
                    hint="Seal it with `qengine seal SPEC --secrets FILE --out SEALED`; plain-text "
                    "secrets are only accepted by a --sandbox run.",
                )
            return None
        provider = self._key_provider_for(document, provider)
        sealed = SealedSecrets.from_job(document, provider)
        sealed.check_job(document)
        sealed.verify()
        return sealed

    def _key_provider_for(
        self, document: Mapping[str, Any], provider: KeyProvider | None
    ) -> KeyProvider:
        """The engine's key provider, or the plugin's of the kind the job was sealed under."""
        sealed = document.get("secrets")
        data_key = sealed.get("data_key") if isinstance(sealed, Mapping) else None
        kind = data_key.get("provider") if isinstance(data_key, Mapping) else None
        if provider is not None and (not isinstance(kind, str) or provider.kind == kind):
            return provider
        if isinstance(kind, str) and self.plugins.registry.provides(KEY_PROVIDER, kind):
            return self.plugins.registry.key_provider(kind, self.settings)
        if provider is not None:
            return provider  # it refuses the job's key, naming the provider it expected
        raise SecretError(
            "the job carries sealed secrets but the engine has no key provider"
            + (f" of kind {kind!r}" if isinstance(kind, str) else ""),
            hint="Configure the key provider the job was sealed for, or install its plugin.",
        )

    def _audit_unsealed(self, job: Job, name: str) -> None:
        self._record(job, "secret.unsealed", outcome="ok", secret=name)

    def _audit_result(self, job: Job, plan: Plan, result: JobResult) -> None:
        if self.audit is None:
            return
        mutating = {step.id for step in plan.steps if step.changes}
        records = [
            self._audit_record(job, "step." + o.status.value, o.status.value, step=o.step_id)
            for o in result.steps
            if o.step_id in mutating
        ]
        records += [
            self._audit_record(job, "step.compensated", "ok", step=step_id)
            for step_id in result.rolled_back
        ]
        records.append(self._audit_record(job, "job.finished", result.status.value))
        # One batch: the sink may write it with one fsync rather than one per record.
        self.audit.append_all(records)

    def _record(self, job: Job, action: str, *, outcome: str, **details: str) -> None:
        if self.audit is None:
            return
        self.audit.append(self._audit_record(job, action, outcome, **details))

    def _audit_record(self, job: Job, action: str, outcome: str, **details: str) -> AuditRecord:
        return AuditRecord(
            time=timestamp(self._clock()),
            job_id=job.id,
            actor_id=job.actor.id,
            action=action,
            target=target_of(job),
            outcome=outcome,
            details=details,
        )


def _identity(document: Mapping[str, Any]) -> tuple[str, str]:
    job_id = document.get("id")
    actor = document.get("actor")
    actor_id = actor.get("id") if isinstance(actor, Mapping) else None
    return (
        job_id if isinstance(job_id, str) else "?",
        actor_id if isinstance(actor_id, str) else "?",
    )


def _reason_of(exc: InvalidInputError) -> str:
    """The refusal's code for the audit record."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str):
        return reason
    return "invalid_spec" if isinstance(exc, SpecError) else "invalid_input"


def _kind_of_problem(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "it nests too deeply"
    if isinstance(exc, OverflowError):
        return "a number or date is out of range"
    return "it is not canonical JSON (a number out of range, a lone surrogate, or a non-JSON value)"


def _describe_target(job: Job) -> str:
    if isinstance(job, EnvironmentJob):
        return f"target kind {job.target.kind!r}"
    return f"cloud provider kind {job.cluster.provider.kind!r}"


def _session_on(stack: ExitStack) -> SandboxSession:
    """A session of one job whose stand-ins stop with ``stack`` (the host's exit stack)."""
    session = SandboxSession()
    stack.callback(session.close)
    return session
