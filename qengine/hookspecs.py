"""Hook specifications: every hook a qengine plugin may implement.

A plugin is a module (or object) registered under the ``qengine`` entry-point group whose
functions are marked with :data:`qengine.hookimpl`. Hooks are grouped by phase. Hook arguments
are only ever added, never removed or renamed, and pluggy lets an implementation accept fewer
arguments than the specification offers, so a plugin written today keeps working.

Registration
    :func:`qengine_register` -- contribute providers and spec sections.

Configuration
    :func:`qengine_add_options` -- add command-line options to ``run`` and ``plan``.
    :func:`qengine_engine_settings` -- turn those options into the plugin's engine settings.

Validation
    :func:`qengine_check_job` -- validate or veto a job (policy).

Planning
    :func:`qengine_sandbox` -- start the in-process stand-ins of a sandbox run.
    :func:`qengine_plan_steps` -- add steps to any job's plan (policy, notification...).

Export
    :func:`qengine_export` -- write a job's blueprints for use without qengine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping
    from contextlib import ExitStack
    from pathlib import Path

    from qengine._errors import SpecIssue
    from qengine._registry import Registry
    from qengine._services import JobServices
    from qengine._session import SandboxSession
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
        a factory: ``factory(section, services)`` returns the interface of the family
        (``InfraEngine``, ``EnvEngine``, ``ContainerRegistry``, ``BuildBackend``,
        ``DnsProvider``), and the engine calls it when a job needs that kind. Import cloud
        SDKs inside the factory, never at module level, so ``qengine validate`` stays fast.

    Called once per plugin, when a plugin set is loaded. A plugin that raises here is reported
    and disabled (fatal with ``--strict-plugins``). Registering a kind another plugin already
    registered is refused with an error naming both plugins.

    Return value: ignored.

    Since: 0.1.
    """


# -- Configuration -----------------------------------------------------------------------------


@hookspec
def qengine_add_options(parser: argparse.ArgumentParser) -> None:
    """Add this plugin's command-line options to ``qengine run`` and ``qengine plan``.

    :param parser: the command's parser; add an argument group named after the plugin
        (``parser.add_argument_group("kubernetes")``) and long options only. An option that
        clashes with another's is an error naming the option.

    Called once per command line. Options must not carry secret values (a command line is
    visible to every user of the machine): take a file path instead.

    Return value: ignored.

    Since: 0.2.
    """


@hookspec
def qengine_engine_settings(options: Mapping[str, object]) -> Mapping[str, object] | None:
    """Turn the parsed command line into this plugin's engine settings.

    :param options: every option of the command, by ``dest`` (``vars(args)``): read the ones
        this plugin added in :func:`qengine_add_options`.

    Return ``{plugin_name: settings}`` (merged into the engine's settings, where the plugin's
    factories and steps find them as ``services.settings_for(plugin_name, type)``), or None.
    Raise :class:`~qengine.InvalidInputError` for a bad value (exit 2, nothing applied).

    Since: 0.2.
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
    job: Job, stack: ExitStack, session: SandboxSession, settings: Mapping[str, object]
) -> dict[str, object] | None:
    """Start what a sandbox run of ``job`` needs in place of the real cloud or cluster.

    :param job: the validated job, run with ``--sandbox``.
    :param stack: the run's exit stack: enter servers on it (``stack.enter_context(...)``) so
        they stop when the run ends, whatever happens (it is ``session.stack``).
    :param session: the sandbox session the job runs in. Several jobs may run in one session,
        one after the other: reuse what an earlier job of the session started (its
        slots, e.g. ``session.cluster()``) rather than start another, and publish there
        (``session.put(key, value)``) what a later job may use.
    :param settings: the host's engine settings, keyed by plugin name (since 0.2). The
        settings returned replace the plugin's own: carry over what is not about where the job
        runs (a binary's path, a chart root, limits), so a sandbox run keeps them.

    Return the settings this plugin's steps should use, keyed by the plugin's name (they reach
    the factories and steps as ``services.settings_for(name, type)``, over the host's), or None
    when the job is none of this plugin's business. Only loopback addresses may be used.
    Called before the job is planned.

    Since: 0.1.
    """


@hookspec
def qengine_plan_steps(job: Job, services: JobServices) -> list[Step] | None:
    """Add steps to the plan of any job, beside those of the job's own providers.

    The work of a job's sections is planned through the interfaces their plugins registered
    (the target's ``EnvEngine``, the cloud provider's ``InfraEngine``, the build backend and
    registry): a plugin that provides a kind needs no implementation of this hook. It is for
    plugins that take part in jobs they do not provide, such as a notification after a deploy.

    :param job: the validated job.
    :param services: what the steps may use when they run (see ``JobServices``).

    Building steps must make no mutating request (``qengine plan`` stops here). Step ids must
    be unique in the plan; a step may depend on another step by id.

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
