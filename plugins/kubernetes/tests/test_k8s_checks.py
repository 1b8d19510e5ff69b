"""Validation of environment jobs bound for a Kubernetes target: refused with the path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from qengine_kubernetes.checks import object_name_issues
from qengine_kubernetes.render import RenderedEnvironment, RenderedService

from qengine import PluginSet, SpecError
from qengine.spec import EnvironmentJob

Example = Callable[[str], dict[str, Any]]
Load = Callable[[dict[str, Any]], EnvironmentJob]
S = "$.environment.services"


def _issues(plugins: PluginSet, doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(doc)
    return {issue.path: issue.message for issue in caught.value.issues}


def test_k8s_examples_pass(k8s_plugins: PluginSet, example: Example) -> None:
    for name in ("quickstart", "all-kinds"):
        k8s_plugins.loader.load(example(name))


def test_k8s_other_targets_are_not_checked(k8s_plugins: PluginSet, example: Example) -> None:
    from qengine_kubernetes.checks import check_job

    import qengine.testing.plugin as test_plugin
    from qengine import load_plugins

    plugins = load_plugins(
        strict=True,
        environ={"QENGINE_PLUGINS": "kubernetes"},
        plugins=[("test", test_plugin)],
    )
    doc = example("quickstart")
    doc["target"] = {"kind": "test", "steps": "a"}
    doc["environment"]["services"][4]["schedule"]["timezone"] = "Mars/Olympus"
    assert check_job(plugins.loader.load(doc)) == []


def test_k8s_names_too_long_once_derived(k8s_plugins: PluginSet, example: Example) -> None:
    doc = example("quickstart")
    long_job = "m" * 60  # its Job is named <name>-<8 hex digits>: 69 characters
    long_db = "d" * 53  # a StatefulSet name may have 52
    services = doc["environment"]["services"]
    services[0]["name"] = long_db
    services[1]["name"] = long_job
    services[1]["depends_on"] = [long_db]
    services[2]["depends_on"] = [long_db, long_job]
    services[3]["depends_on"] = [long_db]
    issues = _issues(k8s_plugins, doc)
    assert "its Job would be named" in issues[f"{S}[{long_job}].name"]
    assert "at most 63" in issues[f"{S}[{long_job}].name"]
    assert "its StatefulSet would be named" in issues[f"{S}[{long_db}].name"]


def test_k8s_collisions_are_refused_with_the_path() -> None:
    def obj(kind: str, name: str) -> dict[str, Any]:
        return {"kind": kind, "metadata": {"name": name}}

    rendered = RenderedEnvironment(
        namespace="qe-x-000000",
        environment_objects=(),
        services=(
            RenderedService(name="a", kind="container", objects=(obj("Secret", "a-db"),)),
            RenderedService(name="b", kind="container", objects=(obj("Deployment", "a-db"),)),
            RenderedService(name="a-db", kind="database", objects=(obj("Secret", "a-db"),)),
        ),
    )
    issues = {i.path: i.message for i in object_name_issues(rendered)}
    assert list(issues) == [f"{S}[2].name"]
    assert "Secret 'a-db' collides" in issues[f"{S}[2].name"]
    assert "services[0]" in issues[f"{S}[2].name"]


def test_k8s_hosts_duplicated_across_routers(k8s_plugins: PluginSet, example: Example) -> None:
    doc = example("quickstart")
    second = dict(doc["environment"]["services"][5], name="private")
    second["domains"] = ["admin.example.com", "SHOP.example.com"]
    doc["environment"]["services"].append(second)
    issues = _issues(k8s_plugins, doc)
    assert issues == {
        f"{S}[private].domains[1]": "'SHOP.example.com' is already routed by "
        "environment.services[public]"
    }


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            lambda s: s[4].update(output_name_pattern="^[A-Z"),
            f"{S}[nightly-report].output_name_pattern",
            "not a regular expression",
        ),
        (
            lambda s: s[4]["schedule"].update(timezone="Europe/Atlantis"),
            f"{S}[nightly-report].schedule.timezone",
            "not a known IANA time zone",
        ),
        (lambda s: s[0].pop("password"), f"{S}[db].password", "is required"),
        (
            lambda s: s[2]["ports"][0].update(name="a-very-long-port-name"),
            f"{S}[web].ports[0].name",
            "at most 15",
        ),
        (
            lambda s: s[0].update(depends_on=["nightly-report"]),
            f"{S}[db].depends_on[0]",
            "deployed after the databases",
        ),
    ],
)
def test_k8s_bad_input_is_refused(
    k8s_plugins: PluginSet,
    example: Example,
    change: Callable[[list[dict[str, Any]]], object],
    path: str,
    words: str,
) -> None:
    doc = example("quickstart")
    change(doc["environment"]["services"])
    issues = _issues(k8s_plugins, doc)
    assert words in issues[path], issues


def test_k8s_service_name_of_a_service_must_start_with_a_letter(
    k8s_plugins: PluginSet, example: Example
) -> None:
    doc = example("quickstart")
    doc["environment"]["services"] = [
        {"kind": "container", "name": "3d", "image": "example/x", "ports": [{"port": 80}]}
    ]
    assert "must start with a letter" in _issues(k8s_plugins, doc)[f"{S}[3d].name"]


def test_k8s_environment_id_must_fit_a_label(k8s_plugins: PluginSet, example: Example) -> None:
    doc = example("quickstart")
    doc["environment"]["id"] = "env-" + "x" * 70
    assert "label value" in _issues(k8s_plugins, doc)["$.environment.id"]
