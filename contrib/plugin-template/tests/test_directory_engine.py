"""Jobs of the directory target run through the engine, as a host embedding qengine runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from directory_jobs import SERVICES, job
from qengine_directory.files import ServiceFile
from qengine_directory.plugin import SANDBOX_ROOT
from qengine_directory.settings import DirectorySettings
from qengine_directory.steps import file_step

from qengine import (
    ConflictError,
    Engine,
    InvalidInputError,
    PluginSet,
    SandboxSession,
    load_plugins,
)
from qengine.plugin import (
    CancelToken,
    DeploymentError,
    JobServices,
    ReconcileVerdict,
    Step,
    StepContext,
    hookimpl,
)
from qengine.runner import JobResult, MemoryStateStore
from qengine.spec import EnvironmentJob, Job

SECRETS = {"db-password": "hunter2-not-real"}


def _plugins(*extra: tuple[str, object]) -> PluginSet:
    return load_plugins(strict=True, environ={"QENGINE_PLUGINS": "directory"}, plugins=extra)


def _run(
    engine: Engine, document: dict[str, object], sandbox: SandboxSession | None = None
) -> JobResult:
    return engine.run(document, sandbox_secrets=SECRETS, sandbox=sandbox or False)


def _files(root: Path) -> dict[str, dict[str, object]]:
    return {p.name: json.loads(p.read_text()) for p in sorted((root / "shop").glob("*.json"))}


def test_a_deploy_writes_one_file_per_service_with_secret_references_only(
    tmp_path: Path,
) -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    result = _run(engine, job(tmp_path))
    assert result.status.value == "succeeded", result.error
    files = _files(tmp_path)
    assert sorted(files) == ["db.json", "web.json"]
    web = files["web.json"]
    assert web["service"] == SERVICES[0]
    assert web["service"]["env"] == {"DB_PASSWORD": {"secret": "db-password"}}
    assert (web["paused"], web["restartedBy"]) == (False, None)
    assert "hunter2" not in (tmp_path / "shop" / "web.json").read_text()
    assert sorted(c.describe() for c in result.changes) == [
        f"create file {tmp_path / 'shop' / name}" for name in ("db.json", "web.json")
    ]


def test_a_no_op_redeploy_writes_nothing(tmp_path: Path) -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    _run(engine, job(tmp_path))
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "shop").iterdir()}
    result = _run(engine, job(tmp_path, job_id="job-2"))
    assert result.status.value == "succeeded"
    assert result.changes == ()
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "shop").iterdir()} == before


def test_a_rerun_of_the_same_job_redoes_nothing(tmp_path: Path) -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    _run(engine, job(tmp_path))
    again = _run(engine, job(tmp_path))
    assert {outcome.status.value for outcome in again.steps} == {"skipped"}


def test_pause_resume_and_restart_record_state_and_keep_the_deployed_spec(
    tmp_path: Path,
) -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    _run(engine, job(tmp_path))
    _run(engine, job(tmp_path, action="pause", job_id="pause-1", only=("web",)))
    assert (_files(tmp_path)["web.json"]["paused"], _files(tmp_path)["db.json"]["paused"]) == (
        True,
        False,
    )
    # A redeploy of a changed spec keeps what the pause recorded.
    changed = [{**SERVICES[0], "tag": "1.28"}, SERVICES[1]]
    _run(engine, job(tmp_path, job_id="deploy-2", services=changed))
    web = _files(tmp_path)["web.json"]
    assert (web["service"]["tag"], web["paused"]) == ("1.28", True)  # type: ignore[index]
    _run(engine, job(tmp_path, action="resume", job_id="resume-1"))
    _run(engine, job(tmp_path, action="restart", job_id="restart-1"))
    for document in _files(tmp_path).values():
        assert (document["paused"], document["restartedBy"]) == (False, "restart-1")


def test_delete_removes_the_files_even_of_services_no_longer_in_the_spec(
    tmp_path: Path,
) -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    _run(engine, job(tmp_path))
    _run(engine, job(tmp_path, action="delete", job_id="delete-web", only=("web",)))
    assert sorted(_files(tmp_path)) == ["db.json"]
    result = _run(engine, job(tmp_path, action="delete", job_id="delete-all", services=[]))
    assert result.status.value == "succeeded"
    assert _files(tmp_path) == {}


class _FailsAfterTheFiles:
    """A host plugin whose step runs after the files are written, and fails (a smoke test)."""

    @hookimpl
    def qengine_plan_steps(self, job: Job, services: JobServices) -> list[Step]:
        assert isinstance(job, EnvironmentJob)

        def run(_ctx: StepContext) -> dict[str, str]:
            raise DeploymentError("the smoke test failed")

        after = [f"directory/service/{service.name}" for service in job.environment.services]
        return [Step(id="smoke-test", depends_on=tuple(after), run=run)]


def test_a_failed_job_puts_every_file_back_as_it_was(tmp_path: Path) -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    _run(engine, job(tmp_path, services=SERVICES[:1]))  # web only: db.json does not exist
    before = _files(tmp_path)
    failing = Engine(_plugins(("smoke", _FailsAfterTheFiles())), store=MemoryStateStore())
    changed = [{**SERVICES[0], "tag": "1.28"}, SERVICES[1]]
    result = _run(failing, job(tmp_path, job_id="job-2", services=changed))
    assert result.status.value == "failed"
    assert sorted(result.rolled_back) == ["directory/service/db", "directory/service/web"]
    assert _files(tmp_path) == before
    assert not [p.name for p in (tmp_path / "shop").iterdir() if p.name.startswith(".")]


def test_a_step_left_in_flight_is_done_once_its_file_holds_the_new_content(
    tmp_path: Path,
) -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    accepted = engine.accept(job(tmp_path), sandbox_secrets=SECRETS)
    steps = {step.id: step for step in engine.plan(accepted).steps}
    step = steps["directory/service/web"]
    assert step.reconcile is not None
    ctx = StepContext(
        job_id="job-1",
        organization_id="org-1",
        target_id="environment/shop",
        step_id=step.id,
        idempotency_key=step.key_for("job-1"),
        cancel=CancelToken(),
        inputs={"directory/snapshot": {"web": ""}},
    )
    assert step.reconcile(ctx).verdict is ReconcileVerdict.REDO
    step.run(ctx)
    assert step.reconcile(ctx).verdict is ReconcileVerdict.DONE
    assert step.compensate is not None
    step.compensate(ctx)
    assert not (tmp_path / "shop" / "web.json").exists()


def test_the_host_root_confines_targets(tmp_path: Path) -> None:
    settings = {"directory": DirectorySettings(root=tmp_path / "allowed")}
    engine = Engine(_plugins(), store=MemoryStateStore(), settings=settings)
    with pytest.raises(InvalidInputError, match="is outside"):
        _run(engine, job(tmp_path / "elsewhere"))
    assert not (tmp_path / "elsewhere").exists()
    assert _run(engine, job(tmp_path / "allowed")).status.value == "succeeded"


def test_a_sandbox_session_writes_under_its_own_directory_only(tmp_path: Path) -> None:
    engine = Engine(_plugins(), store=MemoryStateStore())
    with SandboxSession() as session:
        _run(engine, job(tmp_path), sandbox=session)
        _run(engine, job(tmp_path, action="pause", job_id="pause-1"), sandbox=session)
        root = session.get(SANDBOX_ROOT)
        assert root is not None
        rendered = root / tmp_path.relative_to("/")
        assert all(document["paused"] for document in _files(rendered).values())
    assert not root.exists()
    assert not (tmp_path / "shop").exists()


def test_a_file_the_target_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "web.json").write_text('{"written": "by a person"}\n')
    engine = Engine(_plugins(), store=MemoryStateStore())
    with pytest.raises(ConflictError, match="is not a file this target wrote"):
        _run(engine, job(tmp_path))
    assert (tmp_path / "shop" / "web.json").read_text() == '{"written": "by a person"}\n'


def test_a_service_built_from_source_records_the_image_its_build_step_made(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shop" / "web.json"
    planned = ServiceFile(environment="shop", service={"kind": "application", "name": "web"})
    step = file_step("web", path, planned, current="", built_by="build/web")
    assert step.depends_on == ("directory/snapshot", "build/web")
    image = "registry.test/shop/web:0123abcd"
    ctx = StepContext(
        job_id="job-1",
        organization_id="org-1",
        target_id="environment/shop",
        step_id=step.id,
        idempotency_key=step.key_for("job-1"),
        cancel=CancelToken(),
        inputs={"directory/snapshot": {"web": ""}, "build/web": {"image": image}},
    )
    step.run(ctx)
    assert json.loads(path.read_text())["image"] == image
    # Planned again once the file records the image: the same key, and no change expected.
    again = file_step("web", path, planned, current=path.read_text(), built_by="build/web")
    assert (again.key_for("job-1"), again.changes) == (step.key_for("job-1"), ())
