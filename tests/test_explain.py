"""``qengine explain PATH``: type, default, description and children of a spec path."""

from __future__ import annotations

import json

import pytest

from qengine._cli.main import main


def _explain(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cluster_addons_shows_its_fields_with_defaults_and_descriptions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _explain(capsys, "cluster.addons")
    assert code == 0
    assert out.startswith("FIELD:    cluster.addons\nTYPE:     object (Addons)\nDEFAULT:  {}\n")
    assert "add-on stack" in out
    assert "    ingress  <boolean>  default true\n        The ingress controller" in out
    assert "    chart_mirror  <string or null>  default null\n" in out


def test_environment_services_lists_the_service_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _explain(capsys, "environment.services")
    assert code == 0
    assert "DEFAULT:  []" in out
    assert "The services of the environment" in out
    assert "KINDS:\n    application  <object (ApplicationService)>" in out
    assert "    container  <object (ContainerService)>" in out


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("environment.services.container.replicas", "DEFAULT:  1"),
        ("environment.services[].replicas", "How many copies run"),
        ("environment.services[0].schedule.cron", "must be able to fire"),
        ("cluster.provider.aws.region", "The AWS region of the cluster"),
        ("InfrastructureJob.cluster.addons.manage", "Whether qengine manages the add-ons"),
        ("target", "kubeconfig"),
    ],
)
def test_paths_through_kinds_and_plugin_sections(
    capsys: pytest.CaptureFixture[str], path: str, words: str
) -> None:
    code, out, _ = _explain(capsys, path)
    assert code == 0
    assert words in out


def test_no_path_explains_the_job_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _explain(capsys)
    assert code == 0
    assert "KINDS:\n    EnvironmentJob" in out
    assert "    InfrastructureJob" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _explain(capsys, "--output", "json", "environment.services.job.schedule")
    assert code == 0
    data = json.loads(out)
    assert data["path"] == "environment.services.job.schedule"
    assert data["required"] is True
    on = next(f for f in data["fields"] if f["name"] == "on")
    assert on["required"] is True
    assert "default" not in on
    policy = next(f for f in data["fields"] if f["name"] == "concurrency_policy")
    assert policy["default"] == "Forbid"


@pytest.mark.parametrize(
    ("path", "suggestion"),
    [
        ("enviroment.services", "did you mean 'environment'?"),
        ("environment.services.contaner", "did you mean 'container'?"),
        ("cluster.addons.ingres", "did you mean 'ingress'?"),
    ],
)
def test_an_unknown_path_is_invalid_input_with_a_suggestion(
    capsys: pytest.CaptureFixture[str], path: str, suggestion: str
) -> None:
    code, _, err = _explain(capsys, path)
    assert code == 2
    assert suggestion in err
    assert "Traceback" not in err
