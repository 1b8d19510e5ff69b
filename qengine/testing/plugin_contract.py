"""A contract suite every qengine plugin should pass: subclass it in the plugin's tests.

```python
from pathlib import Path

from qengine.testing.plugin_contract import PluginContract


class TestMoonPluginContract(PluginContract):
    plugin_name = "moon"            # the plugin's entry-point name
    sdk_modules = ("moon_sdk",)     # modules loading the plugin must not import

    def job_document(self, tmp_path: Path) -> dict[str, object]:
        return {...}                # a job of one of the plugin's kinds, run with no cloud
```

The suite loads the plugin through its real entry point, strictly, and checks what the engine
relies on: it registers something, every factory is callable, each section class is a frozen
attrs class whose ``kind`` is the ``Literal`` it was registered under, the JSON Schema includes
it, and loading the plugin imports none of the SDK modules named.

Then it runs the job :meth:`PluginContract.job_document` gives, through
:class:`qengine.Engine` as a host would: the factories of the job's sections of the plugin's
kinds build the family's interface, ``Engine.plan`` gives steps, ``Engine.run`` succeeds, and
running it again converges: the same job again redoes no step (the plan is stable), and the
same job under a new id (a redeploy) changes nothing. Class attributes say how to run it:

``job_plugins``
    entry-point names of other plugins the job needs (a registry plugin's job needs a target).
``job_sandbox``
    run the job as ``qengine run --sandbox`` does, all runs in one sandbox session.
``job_secrets``
    the plain-text secrets of the job's references (sealed in memory, as for ``--sandbox``).
``no_job_reason``
    for a plugin that can give no job yet: why. The job's tests are then not collected; every
    other plugin must give a job, and a subclass that gives none fails, saying so.
"""

from __future__ import annotations

import subprocess
import sys
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import attrs

from qengine._plugins import PluginSet, load_plugins
from qengine.spec._schema import job_schema

if TYPE_CHECKING:
    from qengine import AcceptedJob, Engine, SandboxSession
    from qengine.runner import JobResult
    from qengine.spec import PluginSection

# The tests that run the plugin's job; not collected when a subclass sets ``no_job_reason``.
_JOB_TESTS = ("test_factories_build_the_interface_for_the_job", "test_plans_and_runs_the_job")


class PluginContract:
    """Base class of a plugin's contract tests (pytest collects the ``test_`` methods)."""

    plugin_name: ClassVar[str]
    sdk_modules: ClassVar[tuple[str, ...]] = ()
    job_plugins: ClassVar[tuple[str, ...]] = ()
    job_sandbox: ClassVar[bool] = False
    job_secrets: ClassVar[Mapping[str, str] | None] = None
    no_job_reason: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.no_job_reason:
            for name in _JOB_TESTS:  # pytest collects only callables
                setattr(cls, name, None)

    def job_document(self, tmp_path: Path) -> Mapping[str, object] | None:
        """A job of one of the plugin's kinds, as a JSON object (override it).

        The contract plans it and runs it three times on one state store: it must succeed with
        no cloud and no network beyond 127.0.0.1 (use ``job_sandbox`` for the plugin's
        stand-ins), and leave whatever it writes under ``tmp_path``. None (the default) fails
        the job's tests, naming this method.
        """
        return None

    def _plugins(self) -> PluginSet:
        return load_plugins(strict=True, environ={"QENGINE_PLUGINS": self.plugin_name})

    def test_loads_from_its_entry_point(self) -> None:
        (info,) = self._plugins().plugins
        assert info.name == self.plugin_name
        assert info.loaded, info.error
        assert info.distribution, "the plugin must come from an installed distribution"

    def test_registers_something(self) -> None:
        assert self._plugins().registry.entries(), "the plugin registered nothing"

    def test_every_factory_is_callable(self) -> None:
        for entry in self._plugins().registry.entries():
            assert callable(entry.factory), f"the factory of {entry.family} {entry.kind!r}"

    def test_sections_are_frozen_attrs_tagged_by_kind(self) -> None:
        for entry in self._plugins().registry.entries():
            spec_type = entry.spec_type
            if spec_type is None:
                continue
            assert attrs.has(spec_type), f"{spec_type.__name__} is not an attrs class"
            assert spec_type.__setattr__ is not object.__setattr__, "sections must be frozen"
            kind = typing.get_type_hints(spec_type)["kind"]
            assert typing.get_origin(kind) is Literal
            assert typing.get_args(kind) == (entry.kind,), f"kind of {spec_type.__name__}"

    def test_schema_includes_every_section(self) -> None:
        plugins = self._plugins()
        definitions = job_schema(plugins.registry.section_kinds())["$defs"]
        for entry in plugins.registry.entries():
            if entry.spec_type is not None:
                assert entry.spec_type.__name__ in definitions

    def test_loading_imports_no_sdk(self) -> None:
        if not self.sdk_modules:
            return
        script = (
            "import sys; from qengine import load_plugins; "
            f"load_plugins(strict=True, environ={{'QENGINE_PLUGINS': {self.plugin_name!r}}}); "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {self.sdk_modules!r}))"
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == "[]", f"loading imported {result.stdout.strip()}"

    # -- the plugin's job -----------------------------------------------------------------

    def test_factories_build_the_interface_for_the_job(self, tmp_path: Path) -> None:
        from qengine import SandboxSession

        document = self._job(tmp_path)
        engine = self._engine()
        with SandboxSession() as session:
            accepted = self._accept(engine, document, session)
            sections = self._own_sections(engine, accepted)
            assert sections, f"the job uses none of the kinds plugin {self.plugin_name!r} registers"
            for section in sections:
                interface, build = _builder(accepted, section)
                built = build()
                assert isinstance(built, interface), (
                    f"the factory of {section.family} {section.kind!r} built a "
                    f"{type(built).__name__}, not a {interface.__name__}"
                )

    def test_plans_and_runs_the_job(self, tmp_path: Path) -> None:
        from qengine import SandboxSession
        from qengine.runner import ChangeAction, JobStatus, StepStatus

        document = self._job(tmp_path)
        engine = self._engine()
        with SandboxSession() as session:
            plan = engine.plan(self._accept(engine, document, session))
            assert plan.steps, "the plan of the job has no step"
            first = self._run(engine, document, session)
            assert first.status is JobStatus.SUCCEEDED, f"the job failed: {first.error}"
            again = self._run(engine, document, session)
            redone = [o.step_id for o in again.steps if o.status is not StepStatus.SKIPPED]
            assert not redone, f"running the same job again redid {redone}: is the plan stable?"
            redeploy = {**document, "id": f"{document['id']}-again"}
            second = self._run(engine, redeploy, session)
            assert second.status is JobStatus.SUCCEEDED, f"the job failed again: {second.error}"
            changed = [c.describe() for c in second.changes if c.action is not ChangeAction.NONE]
            assert not changed, f"the same job under a new id changed {changed}"

    def _job(self, tmp_path: Path) -> Mapping[str, object]:
        document = self.job_document(tmp_path)
        if document is None:
            raise AssertionError(
                f"{type(self).__name__} gives no job to run: define job_document(self, "
                f"tmp_path) returning a job of one of the kinds plugin {self.plugin_name!r} "
                "registers, which the contract plans and runs (see docs/plugins.md, "
                "'Contract tests'). A plugin that cannot run a job yet sets no_job_reason."
            )
        return document

    def _engine(self) -> Engine:
        from qengine import Engine
        from qengine.runner import MemoryStateStore

        names = ",".join((self.plugin_name, *self.job_plugins))
        plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": names})
        return Engine(plugins, store=MemoryStateStore())

    def _accept(
        self, engine: Engine, document: Mapping[str, object], session: SandboxSession
    ) -> AcceptedJob:
        return engine.accept(
            document,
            sandbox_secrets=self.job_secrets,
            consume=False,
            sandbox=session if self.job_sandbox else None,
        )

    def _run(
        self, engine: Engine, document: Mapping[str, object], session: SandboxSession
    ) -> JobResult:
        return engine.run(
            document,
            sandbox_secrets=self.job_secrets,
            sandbox=session if self.job_sandbox else False,
        )

    def _own_sections(self, engine: Engine, accepted: AcceptedJob) -> list[PluginSection]:
        entries = engine.plugins.registry.entries()
        mine = {(e.family, e.kind) for e in entries if e.plugin == self.plugin_name}
        job = accepted.job
        found = [
            getattr(job, "target", None),
            getattr(getattr(job, "cluster", None), "provider", None),
            getattr(job, "registry", None),
            getattr(job, "build", None),
            getattr(job, "dns", None),
        ]
        return [s for s in found if s is not None and (s.family, s.kind) in mine]


def _builder(accepted: AcceptedJob, section: PluginSection) -> tuple[type, Callable[[], object]]:
    """The interface of ``section``'s family and the job's service that builds it."""
    from qengine.interfaces import (
        BuildBackend,
        ContainerRegistry,
        DnsProvider,
        EnvEngine,
        InfraEngine,
    )
    from qengine.spec import BuildSpec, DnsSpec, ProviderSpec, RegistrySpec, TargetSpec

    services = accepted.services
    builders: dict[str, tuple[type, Callable[[], object]]] = {
        TargetSpec.family: (EnvEngine, services.env_engine),
        ProviderSpec.family: (InfraEngine, services.infra_engine),
        RegistrySpec.family: (ContainerRegistry, services.container_registry),
        BuildSpec.family: (BuildBackend, services.build_backend),
        DnsSpec.family: (DnsProvider, services.dns_provider),
    }
    return builders[section.family]
