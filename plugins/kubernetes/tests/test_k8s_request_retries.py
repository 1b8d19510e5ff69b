"""Request-level retries: a 429, a 5xx or a dropped connection is sent again with a jittered
exponential backoff (the server's Retry-After honoured only when it sent one), within a budget,
and the whole step is not re-run for it. All against the simulator's injected API faults."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from k8s_support import Deploy, sim_settings
from qengine_kubernetes.access import connect
from qengine_kubernetes.client import KubeApi, cancelled_by

from qengine import EventType
from qengine.interfaces.cancel import CancelToken
from qengine.plugin import CancelledError, InfrastructureError, RetryPolicy
from qengine.runner import JobStatus
from qengine.spec import TargetSpec
from qengine.testing.kube import ApiFault, KubeSimulator


def _api(sim: KubeSimulator, **policy: Any) -> KubeApi:
    from qengine_kubernetes.spec import SandboxTarget

    target: TargetSpec = SandboxTarget(kind="sandbox")
    api = connect(target, sim_settings(sim))
    if policy:
        api.retry = RetryPolicy(**policy)
    return api


def test_a_500_without_retry_after_backs_off_with_jitter_not_a_fixed_second(
    k8s_sim: KubeSimulator,
) -> None:
    k8s_sim.faults.add_api(
        ApiFault(kind="500", methods=("GET",), path_contains="/configmaps/", count=3)
    )
    api = _api(k8s_sim)

    assert api.get("ConfigMap", "default", "missing") is None

    assert api.counter.retries == 3
    # Full jitter from 0.1 s doubling: the n-th wait is at most 0.1 * 2**(n-1) seconds.
    for n, wait in enumerate(api.counter.waits, start=1):
        assert 0.0 <= wait <= 0.1 * 2 ** (n - 1) + 1e-9, api.counter.waits


def test_a_sent_retry_after_is_honoured(k8s_sim: KubeSimulator) -> None:
    k8s_sim.faults.add_api(
        ApiFault(kind="429", methods=("GET",), path_contains="/configmaps/", count=1, retry_after=2)
    )
    api = _api(k8s_sim)

    api.get("ConfigMap", "default", "missing")

    assert api.counter.waits == [2.0]


def test_the_transport_does_not_retry_silently(k8s_sim: KubeSimulator) -> None:
    """Every re-send is the engine's own, counted and backed off: the simulator sees exactly
    one more request per injected fault, for PATCH as for GET."""
    for method in ("GET", "PATCH"):
        k8s_sim.faults.add_api(
            ApiFault(kind="drop", methods=(method,), path_contains="/configmaps", count=2)
        )
    api = _api(k8s_sim)
    k8s_sim.clear_requests()

    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
        "data": {"a": "1"},
    }
    api.apply(obj)
    assert api.get("ConfigMap", "default", "c") is not None

    sent = k8s_sim.requests()
    assert [r.status for r in sent if r.method == "PATCH"] == [0, 0, 201]
    assert [r.status for r in sent if r.method == "GET"] == [0, 0, 200]
    assert api.counter.retries == 4


def test_a_spent_budget_is_final_and_names_it(k8s_sim: KubeSimulator) -> None:
    k8s_sim.faults.add_api(ApiFault(kind="500", methods=("GET",), path_contains="/configmaps/"))
    api = _api(k8s_sim, max_attempts=3, max_elapsed_seconds=5.0, initial_backoff=0.01)

    with pytest.raises(InfrastructureError) as caught:
        api.get("ConfigMap", "default", "c")

    assert not caught.value.retryable  # the step is not re-run for what the request tried
    assert "3 attempts" in str(caught.value)
    assert api.counter.gave_up == 1


def test_a_cancel_ends_a_backoff_at_once(k8s_sim: KubeSimulator) -> None:
    """A 30 s Retry-After is cut short by the step's cancel token (the bound below is 3x
    under the wait, so only an interrupted backoff passes)."""
    k8s_sim.faults.add_api(
        ApiFault(kind="429", methods=("GET",), path_contains="/configmaps/", retry_after=30)
    )
    api = _api(k8s_sim)
    token = CancelToken()
    timer = threading.Timer(0.3, token.cancel, args=("stop",))
    timer.start()
    started = time.monotonic()

    with cancelled_by(token), pytest.raises(CancelledError):
        api.get("ConfigMap", "default", "c")

    assert time.monotonic() - started < 10.0
    assert api.counter.waits == [30.0]


@pytest.mark.parametrize("kind", ["500", "429", "drop"])
def test_a_deploy_survives_a_fifth_of_requests_failing_without_rerunning_steps(
    kind: str, k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Callable[[str], dict[str, Any]]
) -> None:
    k8s_sim.faults.add_api(ApiFault(kind=kind, fraction=0.2, retry_after=0))

    deployed = k8s_deploy(example("quickstart"), job_id=f"faults-{kind}")

    assert deployed.result.status is JobStatus.SUCCEEDED, deployed.result.error
    failed = [r for r in k8s_sim.requests() if r.status in (0, 429, 500)]
    assert failed, "the fault was injected"
    # Retried request by request: no step was attempted twice.
    step_retries = [m for m in deployed.messages(EventType.WARNING) if "retrying in" in m]
    assert step_retries == []
