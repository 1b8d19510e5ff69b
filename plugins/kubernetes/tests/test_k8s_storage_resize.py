"""A changed storage of a live StatefulSet is refused before anything is applied.

A 1.31 API server forbids updating a StatefulSet's volumeClaimTemplates (the simulator too), so
without the check a second deploy with another database size failed half-way with a 422.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from k8s_support import Deploy, mutating
from qengine_kubernetes.storage import quantity

from qengine.runner import JobStatus
from qengine.testing.kube import KubeSimulator

Example = Callable[[str], dict[str, Any]]
NS = "qe-quickstart-1a5010"
DB_PATH = "$.environment.services[db]"


def _db(doc: dict[str, Any]) -> dict[str, Any]:
    db: dict[str, Any] = doc["environment"]["services"][0]
    assert db["name"] == "db"
    return db


def _template_size(sim: KubeSimulator) -> str:
    sts = sim.get_object("statefulsets.apps", NS, "db")
    assert sts is not None
    size: str = sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    return size


def _claim_size(sim: KubeSimulator) -> str:
    claim = sim.get_object("persistentvolumeclaims", NS, "data-db-0")
    assert claim is not None
    size: str = claim["spec"]["resources"]["requests"]["storage"]
    return size


@pytest.mark.parametrize(
    ("first", "second", "field", "words"),
    [
        pytest.param({"storage": "5Gi"}, {"storage": "10Gi"}, "storage", "growing", id="grow"),
        pytest.param({"storage": "10Gi"}, {"storage": "5Gi"}, "storage", "shrinking", id="shrink"),
        pytest.param(
            {}, {"storage_class": "standard"}, "storage_class", "storage class", id="class"
        ),
    ],
)
def test_k8s_a_storage_change_is_refused_before_anything_is_applied(
    k8s_deploy: Deploy,
    k8s_sim: KubeSimulator,
    example: Example,
    first: dict[str, str],
    second: dict[str, str],
    field: str,
    words: str,
) -> None:
    doc = example("quickstart")
    _db(doc).update(first)
    assert k8s_deploy(doc, job_id="deploy-1").result.status is JobStatus.SUCCEEDED
    size = _template_size(k8s_sim)
    _db(doc).update(second)
    k8s_sim.clear_requests()

    result = k8s_deploy(doc, job_id="deploy-2").result

    assert result.status is JobStatus.FAILED
    assert result.error is not None
    assert result.error.kind == "SpecError"
    assert f"{DB_PATH}.{field}: service 'db'" in result.error.message
    assert words in result.error.message
    assert mutating(k8s_sim) == []
    assert _template_size(k8s_sim) == size
    assert _claim_size(k8s_sim) == size
    if words == "growing":
        assert "--cascade=orphan" in result.error.hint
    else:
        assert "new service name" in result.error.hint


def test_k8s_after_a_refused_resize_the_unchanged_spec_is_a_no_op(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="deploy-1").result.status is JobStatus.SUCCEEDED
    grown = {**doc, "environment": {**doc["environment"]}}
    grown["environment"]["services"] = [dict(s) for s in doc["environment"]["services"]]
    _db(grown)["storage"] = "10Gi"
    refused = k8s_deploy(grown, job_id="deploy-2").result
    assert refused.error is not None
    assert refused.error.kind == "SpecError"
    k8s_sim.clear_requests()

    again = k8s_deploy(doc, job_id="deploy-3").result

    assert again.status is JobStatus.SUCCEEDED, again.error
    assert mutating(k8s_sim) == []


def test_k8s_quantities_compare_by_value_not_text() -> None:
    assert quantity("5Gi") == quantity("5120Mi") > quantity("5G") > quantity("4.5G")
    assert quantity("1e3") == quantity("1k")
    with pytest.raises(ValueError, match="not a quantity"):
        quantity("5 gigs")
