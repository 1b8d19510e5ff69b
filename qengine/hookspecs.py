"""Hook specifications: every hook a qengine plugin may implement.

A plugin is a module (or object) registered under the ``qengine`` entry-point group whose
functions are marked with :data:`qengine.hookimpl`. Hooks are grouped by phase. Hook arguments
are only ever added, never removed or renamed, and pluggy lets an implementation accept fewer
arguments than the specification offers, so a plugin written today keeps working.

Registration
    :func:`qengine_register` -- contribute providers and spec sections.

Validation
    :func:`qengine_check_job` -- validate or veto a job (policy).

Planning
    :func:`qengine_sandbox` -- start the in-process stand-ins of a sandbox run.
    :func:`qengine_plan_steps` -- contribute the steps that carry out a job.

Export
    :func:`qengine_export` -- write a job's blueprints for use without qengine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from contextlib import ExitStack
    from pathlib import Path

    from qengine._engine import JobServices
    from qengine._errors import SpecIssue
    from qengine._plugins import Registry
    from qengine._sandbox import SandboxSession
    from qengine.runner import Step
    from qengine.spec import Job

hookspec = pluggy.HookspecMarker("qengine")
hookimpl = pluggy.HookimplMarker("qengine")


# -- Registration ------------------------------------------------------------------------------


@hookspec
def qengine_register(registry: Registry) -> None:
    """Register what this plugin provides, by calling ``registry.add_...`` methods.

    :param registry: the registry of the plugin set being loaded; each ``add_`` call names a
        ``kind`` (the value of a spec section's ``kind``), the attrs class of that section and
        a factory that builds the implementation only when a job needs it. Import cloud SDKs
        inside the factory, never at module level, so ``qengine validate`` stays fast.

    Called once per plugin, when a plugin set is loaded. A plugin that raises here is reported
    and disabled (fatal with ``--strict-plugins``). Registering a kind another plugin already
    registered is refused with an error naming both plugins.

    Return value: ignored.

    Since: 0.1.
    """


# -- Validation --------------------------------------------------------------------------------


@hookspec
def qengine_check_job(job: Job) -> list[SpecIssue] | None:
    """Check a job that is well-formed, before anything runs (validation and policy).

    :param job: the structured, frozen job.

    Return a list of :class:`~qengine.SpecIssue` (each naming a ``$.path``) to refuse the job,
    or ``None`` / an empty list to accept it. Every plugin is asked; all issues are reported
    together. Must not touch the network: this runs for ``qengine validate``.

    Since: 0.1.
    """


# -- Planning ----------------------------------------------------------------------------------


@hookspec
def qengine_sandbox(
    job: Job, stack: ExitStack, session: SandboxSession
) -> dict[str, object] | None:
    """Start what a sandbox run of ``job`` needs in place of the real cloud or cluster.

    :param job: the validated job, run with ``--sandbox``.
    :param stack: the run's exit stack: enter servers on it (``stack.enter_context(...)``) so
        they stop when the run ends, whatever happens (it is ``session.stack``).
    :param session: the sandbox session the job runs in. Several jobs may run in one session,
        one after the other: reuse what an earlier job of the session started (its
        ``session.shared`` entries, e.g. ``qengine.SandboxSession.kube_cluster()``) rather than
        start another, and publish there what a later job may use.

    Return the settings this plugin's steps should use, keyed by the plugin's name (they reach
    the steps as ``services.settings[name]``), or None when the job is none of this plugin's
    business. Only loopback addresses may be used. Called before :func:`qengine_plan_steps`.

    Since: 0.1.
    """


@hookspec
def qengine_plan_steps(job: Job, services: JobServices) -> list[Step] | None:
    """Contribute the steps that carry out ``job``, or None if this plugin has no part in it.

    :param job: the validated job.
    :param services: what the steps may use when they run: ``services.secrets.open(name)``
        opens a sealed secret (only inside a step's ``run``, so a plan opens nothing), and
        ``services.registry`` builds the providers plugins registered.

    Building steps must make no mutating request (``qengine plan`` stops here). Step ids must
    be unique across plugins; a step may depend on another plugin's step by id. Every plugin
    is asked; the engine refuses a job no plugin contributes a step to.

    Since: 0.1.
    """


# -- Export ------------------------------------------------------------------------------------


@hookspec
def qengine_export(job: Job, directory: Path) -> list[str] | None:
    """Write the blueprints of ``job`` (Terraform, charts, manifests) under ``directory``.

    Return the paths written, relative to ``directory``. What is written must let a person
    reproduce the job without qengine, and must never contain a secret value: secret
    references become placeholders. Every plugin is asked.

    Since: 0.1.
    """
