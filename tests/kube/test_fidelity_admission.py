"""Admission webhooks on the simulator: a write a webhook with no ready endpoint must admit is
refused with the API server's message; once its Service has a ready pod, it is admitted."""

from __future__ import annotations

import time
from typing import Any

import pytest

from qengine.testing.kube import KubeSimulator
from qengine.testing.kube.status import ApiError

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.io"},
    "spec": {
        "group": "example.io",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def _webhook(policy: str = "Fail", resources: list[str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "widgets"},
        "webhooks": [
            {
                "name": "check.example.io",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": policy,
                "rules": [
                    {
                        "apiGroups": ["example.io"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": resources or ["widgets"],
                    }
                ],
                "clientConfig": {
                    "service": {"name": "hook", "namespace": "default", "path": "/validate"}
                },
            }
        ],
    }


def _widget(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "example.io/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": "default"},
    }


def _hook_pod_and_service(sim: KubeSimulator) -> None:
    sim.create_object(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hook", "namespace": "default"},
            "spec": {"selector": {"app": "hook"}, "ports": [{"port": 443}]},
        }
    )
    sim.create_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "hook-0", "namespace": "default", "labels": {"app": "hook"}},
            "spec": {"containers": [{"name": "hook", "image": "hook:1"}]},
        }
    )


def _ready(sim: KubeSimulator) -> bool:
    endpoints = sim.get_object("endpoints", "default", "hook")
    return bool(endpoints) and any(s.get("addresses") for s in endpoints.get("subsets") or [])


def test_a_webhook_without_ready_endpoints_refuses_then_admits_once_ready(
    sim: KubeSimulator,
) -> None:
    sim.create_object(CRD)
    sim.create_object(_webhook())

    with pytest.raises(ApiError) as refused:
        sim.create_object(_widget("early"))

    assert refused.value.code == 500
    assert refused.value.message == (
        'Internal error occurred: failed calling webhook "check.example.io": failed to call '
        'webhook: Post "https://hook.default.svc:443/validate?timeout=10s": no endpoints '
        'available for service "hook"'
    )
    _hook_pod_and_service(sim)
    deadline = time.monotonic() + 10
    while not _ready(sim) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ready(sim)
    assert sim.create_object(_widget("late"))["metadata"]["name"] == "late"


def test_ignore_policy_and_unmatched_resources_are_admitted(sim: KubeSimulator) -> None:
    sim.create_object(CRD)
    sim.create_object(_webhook(policy="Ignore"))
    assert sim.create_object(_widget("ignored"))["metadata"]["name"] == "ignored"
    # A rule on another resource does not apply; built-in kinds are not matched.
    sim.create_object({**_webhook(resources=["gadgets"]), "metadata": {"name": "gadgets"}})
    assert sim.create_object(_widget("other"))["metadata"]["name"] == "other"
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
    }
    assert sim.create_object(config)["metadata"]["name"] == "c"


def test_webhook_configurations_are_served_cluster_scoped(sim: KubeSimulator) -> None:
    sim.create_object(_webhook())
    assert [o["metadata"]["name"] for o in sim.objects(
        "validatingwebhookconfigurations.admissionregistration.k8s.io"
    )] == ["widgets"]  # fmt: skip
