"""Rules of single fields and across fields, beyond the golden files."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qengine import PluginSet, SpecError
from qengine.spec import EnvironmentJob, HelmValues, parse_duration, service_path
from qengine.spec._cron import check_cron
from qengine.spec._scalars import SCALARS, DnsLabel, ImageReference, Quantity

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart" / "job.json"


def _quickstart() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(QUICKSTART.read_text())
    return data


def _paths(plugins: PluginSet, document: dict[str, Any]) -> set[str]:
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(document)
    return {issue.path for issue in caught.value.issues}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("web", True),
        ("web-1", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("Web_App", False),
        ("-web", False),
        ("web-", False),
        ("../../etc", False),
        ("", False),
    ],
)
def test_dns_label(value: str, ok: bool) -> None:
    assert (SCALARS[DnsLabel].check(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("250m", True),
        ("1.5", True),
        ("512Mi", True),
        ("10Gi", True),
        ("1e3", True),
        ("lots", False),
        ("10 Gi", False),
        ("Gi", False),
    ],
)
def test_quantity(value: str, ok: bool) -> None:
    assert (SCALARS[Quantity].check(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("nginx", True),
        ("ghcr.io/org/app:1.2", True),
        ("localhost:5000/a/b", True),
        ("a/b@sha256:" + "0" * 64, True),
        ("Nginx", False),
        ("a b", False),
        ("ghcr.io/org/app:bad tag", False),
        ("a@sha256:xyz", False),
    ],
)
def test_image_reference(value: str, ok: bool) -> None:
    assert (SCALARS[ImageReference].check(value) is None) is ok


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        ("*/5 * * * *", True),
        ("0 0 29 2 *", True),
        ("@daily", True),
        ("0 9 * * mon-fri", True),
        ("0 0 30 2 *", False),
        ("0 0 31 4,6 *", False),
        ("61 * * * *", False),
        ("* * *", False),
        ("*/0 * * * *", False),
        ("0 0 30 2 1", True),
        ("30 0 31 2 *", False),
        ("0 0 L * *", False),
        ("0 0 * * 1#2", False),
        ("0 0 ? * *", False),
        ("0 0 * * WED", True),
        ("1," * 500 + "2 * * * *", False),
    ],
)
def test_cron(expression: str, ok: bool) -> None:
    assert (check_cron(expression) is None) is ok


def test_cron_says_why_a_schedule_never_fires() -> None:
    assert check_cron("30 0 31 2 *") == (
        "never fires: no selected month has the selected day of month"
    )


def test_cron_and_canonical_json_libraries_load_only_when_used() -> None:
    script = (
        "import sys, qengine.spec, qengine.secrets.canonical\n"
        "print(sorted(m for m in ('cronsim', 'rfc8785') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_duration_parses() -> None:
    assert parse_duration("1h30m") == 5400.0
    assert parse_duration("45s") == 45.0
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_every_error_is_reported_at_once(plugins: PluginSet) -> None:
    document = _quickstart()
    document["environment"]["services"][0]["name"] = "DB"
    document["environment"]["services"][2]["ports"][0]["port"] = 0
    document["environment"]["services"][2]["env"]["9BAD"] = "x"
    document["environment"]["services"][4]["schedule"]["cron"] = "99 * * * *"
    assert _paths(plugins, document) == {
        "$.environment.services[DB].name",
        "$.environment.services[web].ports[0].port",
        "$.environment.services[web].env.9BAD",
        "$.environment.services[nightly-report].schedule.cron",
        # the renamed database, seen by the well-formed services (web has a field error)
        "$.environment.services[migrate].depends_on[0]",
        "$.environment.services[worker].depends_on[0]",
    }


def test_a_misspelt_job_kind_is_corrected(plugins: PluginSet) -> None:
    document = _quickstart()
    document["kind"] = "EnvironmentJb"
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(document)
    assert [str(issue) for issue in caught.value.issues] == [
        "$.kind: must be one of 'InfrastructureJob', 'EnvironmentJob' "
        "(did you mean 'EnvironmentJob'?)"
    ]


def test_a_misspelt_required_field_is_one_problem(plugins: PluginSet) -> None:
    document = _quickstart()
    document["environment"]["services"][1]["schedul"] = document["environment"]["services"][1].pop(
        "schedule"
    )
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(document)
    assert [str(issue) for issue in caught.value.issues] == [
        "$.environment.services[migrate].schedul: is not a known field (did you mean 'schedule'?)"
    ]


def test_services_without_a_usable_name_are_named_by_position(plugins: PluginSet) -> None:
    document = _quickstart()
    services = document["environment"]["services"]
    services[3]["name"] = "123"
    services[3]["replicas"] = "two"
    services[2]["replicas"] = "two"
    services[4]["name"] = "web"  # two services named web: neither name tells which
    services[4]["tag"] = 7
    assert _paths(plugins, document) == {
        "$.environment.services[2].replicas",
        "$.environment.services[3].replicas",
        "$.environment.services[4].name",
        "$.environment.services[4].tag",
    }


def test_service_path_names_a_service_as_the_loader_does(plugins: PluginSet) -> None:
    document = _quickstart()
    document["environment"]["services"][3]["name"] = "7"
    job = plugins.loader.load(document)
    assert isinstance(job, EnvironmentJob)
    services = job.environment.services
    assert service_path(services, 2) == "$.environment.services[web]"
    assert service_path(services, 3) == "$.environment.services[3]"  # digits read as a position


def test_autoscaling_bounds(plugins: PluginSet) -> None:
    document = _quickstart()
    document["environment"]["services"][2]["autoscaling"] = {"min_replicas": 5, "max_replicas": 2}
    assert _paths(plugins, document) == {"$.environment.services[web].autoscaling.max_replicas"}


def test_selected_services_must_exist(plugins: PluginSet) -> None:
    document = _quickstart()
    document["services"] = ["web", "nope"]
    assert _paths(plugins, document) == {"$.services[1]"}


def test_helm_values_keep_secret_references() -> None:
    values = HelmValues.parse({"a": {"b": [1, {"secret": "pw"}]}, "c": "plain\ntext"})
    assert [(path, ref.secret) for path, ref in values.secret_refs()] == [(".a.b[1]", "pw")]
    assert values.resolve(lambda name: f"<{name}>") == {"a": {"b": [1, "<pw>"]}, "c": "plain\ntext"}


def test_string_is_never_coerced_from_a_number(plugins: PluginSet) -> None:
    document = copy.deepcopy(_quickstart())
    document["environment"]["services"][0]["version"] = 16
    assert _paths(plugins, document) == {"$.environment.services[db].version"}


def test_array_is_never_taken_from_a_string(plugins: PluginSet) -> None:
    document = _quickstart()
    document["environment"]["services"][2]["depends_on"] = "db"
    assert _paths(plugins, document) == {"$.environment.services[web].depends_on"}
