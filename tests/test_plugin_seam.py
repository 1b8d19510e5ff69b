"""The plugin seam: hooks checked at load, factories called with (section, services) and
checked for their interface, the engine planning through the interfaces, plugin options and
settings on the command line, typed sandbox slots, key providers found by kind."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import seam_moon
from seam_moon import MoonEngine, MoonTarget

from qengine import Engine, PluginError, load_plugins
from qengine.cli import main
from qengine.plugin import (
    SANDBOX_CLUSTER,
    KeyProvider,
    Registry,
    SandboxCluster,
    SandboxSession,
    SessionKey,
    WrappedKey,
    hookimpl,
)
from qengine.runner import JobStatus, MemoryStateStore


def _job(action: str = "deploy") -> dict[str, object]:
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": f"moon-{action}",
        "organization": {"id": "o"},
        "actor": {"id": "a"},
        "action": action,
        "target": {"kind": "moon", "crater": "tycho"},
        "environment": {"id": "e", "name": "e"},
    }


def _engine(plugin: object, **settings: object) -> Engine:
    plugins = load_plugins(plugins=[("moon", plugin)], autoload=False, strict=True)
    return Engine(plugins, store=MemoryStateStore(), settings=settings)


@pytest.mark.parametrize("action", ["deploy", "pause", "resume", "restart", "delete"])
def test_the_engine_plans_each_action_through_the_targets_interface(action: str) -> None:
    result = _engine(seam_moon, moon="hello").run(_job(action))
    assert result.status is JobStatus.SUCCEEDED
    assert result.outputs == {f"moon/{action}": {"crater": "tycho", "greeting": "hello"}}


class Misspelled:
    @hookimpl
    def qengine_regster(self, registry: Registry) -> None:
        raise AssertionError("never called")


class MisspelledUnmarked:
    def qengine_check_jobs(self, job: object) -> None:
        raise AssertionError("never called")


class MisSigned:
    @hookimpl
    def qengine_register(self, registy: Registry) -> None:
        raise AssertionError("never called")


@pytest.mark.parametrize(
    ("plugin", "hook"),
    [
        (Misspelled(), "'qengine_regster' is not a qengine hook (did you mean 'qengine_register'"),
        (MisspelledUnmarked(), "'qengine_check_jobs' is not a qengine hook"),
        (MisSigned(), "registy"),
    ],
    ids=["misspelled", "misspelled-unmarked", "mis-signed"],
)
def test_a_hook_the_engine_would_never_call_is_refused_at_load(plugin: object, hook: str) -> None:
    with pytest.raises(PluginError, match="plugin 'bad' failed to load") as caught:
        load_plugins(plugins=[("bad", plugin)], autoload=False, strict=True)
    assert hook in caught.value.message
    plugins = load_plugins(plugins=[("bad", plugin)], autoload=False)
    (info,) = plugins.plugins
    assert not info.loaded
    assert hook in info.error
    assert plugins.manager.get_plugin("bad") is None


class WrongInterface:
    @hookimpl
    def qengine_register(self, registry: Registry) -> None:
        registry.add_target("moon", MoonTarget, lambda section, services: object())


class WrongArity:
    @hookimpl
    def qengine_register(self, registry: Registry) -> None:
        registry.add_target("moon", MoonTarget, lambda: MoonEngine)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (WrongInterface(), "built a object, not a EnvEngine"),
        (WrongArity(), "could not be built"),
    ],
    ids=["wrong-interface", "wrong-arity"],
)
def test_a_factory_that_does_not_build_the_interface_names_its_plugin(
    plugin: object, message: str
) -> None:
    engine = _engine(plugin)
    accepted = engine.accept(_job())
    with pytest.raises(PluginError, match="the cluster target 'moon' of plugin 'moon'") as caught:
        engine.plan(accepted)
    assert message in caught.value.message


def test_a_factory_that_is_not_callable_is_refused_at_registration() -> None:
    class NotCallable:
        @hookimpl
        def qengine_register(self, registry: Registry) -> None:
            registry.add_target("moon", MoonTarget, "moon:Engine")  # type: ignore[arg-type]

    with pytest.raises(PluginError, match="not callable"):
        load_plugins(plugins=[("moon", NotCallable())], autoload=False, strict=True)


@pytest.fixture(autouse=True)
def _no_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    # The command-line tests load only the test plugins they name with -p.
    monkeypatch.setenv("QENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")


def _moon_file(tmp_path: Path) -> Path:
    import json

    path = tmp_path / "job.json"
    path.write_text(json.dumps(_job()))
    return path


def test_a_plugins_options_reach_its_settings_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-p", "seam_moon", "run", str(_moon_file(tmp_path))]
    state = ["--state-dir", str(tmp_path / "state"), "--output", "json"]
    assert main([*argv, *state, "--moon-greeting", "hi"]) == 0
    assert '"greeting": "hi"' in capsys.readouterr().out


def test_a_plugins_options_are_in_the_help_of_run_and_plan(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in ("run", "plan"):
        with pytest.raises(SystemExit):
            main(["-p", "seam_moon", command, "--help"])
        assert "--moon-greeting" in capsys.readouterr().out


def test_an_option_that_clashes_names_the_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-p", "seam_clash", "run", "job.json"])
    assert code == 1  # a PluginError: the plugin set is broken, not the job
    err = capsys.readouterr().err
    assert "plugin 'seam_clash' adds a command-line option" in err
    assert "--state-dir" in err
    assert "Traceback" not in err


def test_sandbox_slots_are_typed_and_cleared_when_the_session_closes() -> None:
    slot = SessionKey("moon.port", int)
    with SandboxSession() as session:
        assert session.cluster() is None
        cluster = SandboxCluster(endpoint="https://127.0.0.1:1", ca_pem="CA", token="tok-123")
        session.put(SANDBOX_CLUSTER, cluster)
        session.put(slot, 8080)
        assert session.cluster() == cluster
        assert session.get(slot) == 8080
        with pytest.raises(TypeError, match=r"moon\.port"):
            session.put(slot, "8080")  # type: ignore[arg-type]
        assert "tok-123" not in repr(cluster)
    assert session.get(slot) is None


class MoonKeys(KeyProvider):
    """Keys that only exist in this test (the data key is carried as is)."""

    kind = "moon-keys"

    def __init__(self, settings: Mapping[str, object]) -> None:
        self.settings = settings

    def wrap(self, data_key: bytes, *, organization_id: str) -> WrappedKey:
        return WrappedKey(provider=self.kind, key_id="k", version=1, ciphertext=data_key.hex())

    def unwrap(self, wrapped: WrappedKey, *, organization_id: str) -> bytes:
        return bytes.fromhex(wrapped.ciphertext)


class MoonKeysPlugin:
    @hookimpl
    def qengine_register(self, registry: Registry) -> None:
        seam_moon.qengine_register(registry)
        registry.add_key_provider("moon-keys", MoonKeys, "test keys")


def test_a_job_sealed_under_a_plugins_key_provider_opens_with_it() -> None:
    from qengine.secrets.sealing import seal_job

    document = {**_job(), "target": {"kind": "moon", "crater": "tycho"}}
    sealed = seal_job(document, {}, MoonKeys({}))
    result = _engine(MoonKeysPlugin()).run(sealed)
    assert result.status is JobStatus.SUCCEEDED


def test_the_command_line_names_a_disabled_plugin_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-p", "seam_misspelled", "validate", str(_moon_file(tmp_path))])
    err = capsys.readouterr().err
    assert "warning: plugin 'seam_misspelled' is disabled" in err
    assert "'qengine_regster' is not a qengine hook (did you mean 'qengine_register'?)" in err
    assert code == 2  # the moon kind is provided by no loaded plugin
    assert main(["-p", "seam_misspelled", "--strict-plugins", "plugins"]) == 1
    assert "plugin 'seam_misspelled' failed to load" in capsys.readouterr().err
