"""Offline checks of jobs on an ``existing`` cluster, through the plugin loaded from its entry
point (with the AWS plugin for a ``route53`` zone, the GCP plugin for ``cloud-dns``)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from qengine_addons.existing import ExistingCluster

from qengine import SpecError, load_plugins
from qengine.spec import InfrastructureJob

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "existing-cluster" / "job.json"
ROUTE53 = {"kind": "route53", "zone": "apps.example.com"}
ROLE = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/external-dns"}
PLUGINS = "addons,aws,gcp"

Doc = dict[str, Any]


def _job(**top: object) -> Doc:
    document: Doc = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document.update(top)
    return document


def _load(document: Doc) -> InfrastructureJob:
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": PLUGINS}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _issues(document: Doc) -> dict[str, str]:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": PLUGINS})
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(document)
    return {issue.path: issue.message for issue in caught.value.issues}


def _provider(document: Doc) -> Doc:
    provider: Doc = document["cluster"]["provider"]
    return provider


def _addons(document: Doc) -> Doc:
    addons: Doc = document["cluster"].setdefault("addons", {})
    return addons


def test_the_example_loads_into_the_existing_section() -> None:
    job = _load(_job())
    provider = job.cluster.provider
    assert isinstance(provider, ExistingCluster)
    assert (provider.kubeconfig, provider.context, provider.in_cluster) == (
        "~/.kube/config",
        "platform",
        False,
    )


Change = Callable[[Doc], object]


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        pytest.param(lambda d: d.update(action="pause"), "$.action", "does not scale", id="pause"),
        pytest.param(lambda d: d.update(action="resume"), "$.action", "resume", id="resume"),
        pytest.param(
            lambda d: _addons(d).update(autoscaler=False),
            "$.cluster.addons.autoscaler",
            "node groups",
            id="autoscaler-false",
        ),
        pytest.param(
            lambda d: _addons(d).update(autoscaler=True),
            "$.cluster.addons.autoscaler",
            "node groups",
            id="autoscaler-true",
        ),
        pytest.param(
            lambda d: _provider(d).update(in_cluster=True),
            "$.cluster.provider.in_cluster",
            "no kubeconfig or context",
            id="in-cluster-and-kubeconfig",
        ),
        pytest.param(
            lambda d: _provider(d).update(service_accounts={"external-dsn": ROLE}),
            "$.cluster.provider.service_accounts.external-dsn",
            "not an add-on of the stack",
            id="unknown-add-on",
        ),
        pytest.param(
            lambda d: d.update(dns=ROUTE53),
            "$.cluster.provider.service_accounts.external-dns",
            "route53 zone with a cloud identity",
            id="external-dns-without-identity",
        ),
        pytest.param(
            lambda d: (d.update(dns=ROUTE53), _addons(d).update(external_dns=True)),
            "$.cluster.provider.service_accounts.external-dns",
            "qengine makes none",
            id="external-dns-on-without-identity",
        ),
        pytest.param(
            lambda d: (
                d.update(dns=ROUTE53),
                _addons(d).update(acme_challenge="dns01", external_dns=False),
            ),
            "$.cluster.provider.service_accounts.cert-manager",
            "challenge records",
            id="dns01-without-identity",
        ),
        pytest.param(
            lambda d: (
                d.update(dns=ROUTE53),
                _provider(d).update(service_accounts={"external-dns": {}}),
            ),
            "$.cluster.provider.service_accounts.external-dns",
            "is required",
            id="external-dns-with-empty-annotations",
        ),
    ],
)
def test_refused_by_path(change: Change, path: str, words: str) -> None:
    document = _job()
    change(document)
    issues = _issues(document)
    assert path in issues, issues
    assert words in issues[path]


def test_cloud_identity_add_ons_load_when_their_annotations_are_given() -> None:
    document = _job(dns=ROUTE53)
    _addons(document).update(acme_challenge="dns01")
    _provider(document)["service_accounts"] = {"external-dns": ROLE, "cert-manager": ROLE}
    job = _load(document)
    assert isinstance(job.cluster.provider, ExistingCluster)
    assert job.cluster.provider.service_accounts["external-dns"] == ROLE


def test_an_add_on_stack_left_alone_needs_no_identity() -> None:
    document = _job(dns=ROUTE53)
    document["cluster"]["addons"] = {"manage": False}
    _load(document)  # external-dns is not installed: no identity to give it


def test_in_cluster_access_loads_without_a_kubeconfig() -> None:
    document = _job()
    document["cluster"]["provider"] = {"kind": "existing", "in_cluster": True}
    provider = _load(document).cluster.provider
    assert isinstance(provider, ExistingCluster)
    assert provider.in_cluster


def test_the_core_add_on_checks_hold_as_on_the_clouds() -> None:
    document = _job()
    _addons(document).update(external_dns=True, chart_mirror="ftp://charts")
    issues = _issues(document)
    assert {"$.cluster.addons.external_dns", "$.cluster.addons.chart_mirror"} <= set(issues)


def test_validate_exits_2_naming_the_path(tmp_path: Path) -> None:
    document = _job(action="pause")
    spec = tmp_path / "pause.json"
    spec.write_text(json.dumps(document))
    result = subprocess.run(
        [sys.executable, "-m", "qengine", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "$.action" in result.stdout + result.stderr
