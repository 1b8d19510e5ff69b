"""The AKS lifecycle in one sandbox session, through the engine as a host runs it: preflight
refusals (VM size, zones, vCPU quotas named) before anything changes, upgrades one minor
version at a time, and a paused (stopped) cluster left paused by a create."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure_support import DEMO_SECRET, example
from qengine_azure.local_arm import LocalArm
from qengine_azure.local_catalog import usage, usages
from qengine_azure.sandbox_session import AZURE_SETTINGS

from qengine import Engine, QuotaError, SandboxSession, load_plugins
from qengine.runner import JobResult, JobStatus, MemoryStateStore, StepStatus

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("azurite_binary")]
SECRETS = {"azure-client-secret": DEMO_SECRET}


@pytest.fixture
def session() -> Iterator[SandboxSession]:
    with SandboxSession() as found:
        yield found


def _run(session: SandboxSession, document: dict[str, Any]) -> JobResult:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
    engine = Engine(plugins, store=MemoryStateStore())
    return engine.run(document, sandbox_secrets=SECRETS, sandbox=session)


def _job(action: str, number: int, version: str = "1.32", **provider: Any) -> dict[str, Any]:
    document = example()
    document["id"] = f"aks-life-{action}-{number:04d}"
    document["action"] = action
    document["cluster"]["kubernetes_version"] = version
    document["cluster"]["provider"].update(provider)
    return document


def _arm(session: SandboxSession) -> LocalArm:
    settings = session.get(AZURE_SETTINGS)
    assert settings is not None
    assert settings.stand_in is not None
    return settings.stand_in


def _statuses(result: JobResult) -> dict[str, StepStatus]:
    return {outcome.step_id: outcome.status for outcome in result.steps}


def _failure(result: JobResult) -> str:
    assert result.status is JobStatus.FAILED
    assert result.error is not None
    return f"{result.error.kind}: {result.error.message}"


def test_a_size_the_region_does_not_offer_is_refused_before_any_change(
    session: SandboxSession,
) -> None:
    pools = example()["cluster"]["provider"]["node_pools"]
    pools[1]["vm_size"] = "Standard_NC24ads_A100_v4"
    result = _run(session, _job("create", 1, node_pools=pools))
    message = _failure(result)
    assert "node_pools[1].vm_size: Standard_NC24ads_A100_v4 is not offered in westeurope" in (
        message
    )
    assert _statuses(result)["azure.state-backend"] is not StepStatus.SUCCEEDED
    assert DEMO_SECRET not in message


def test_a_zone_without_the_size_is_refused(session: SandboxSession) -> None:
    result = _run(session, _job("create", 2))  # starts the stand-ins
    assert result.status is JobStatus.SUCCEEDED, result.error
    arm = _arm(session)
    offered = arm.skus

    def without_zone_3(location: str) -> list[dict[str, Any]]:
        found = offered(location)
        for sku in found:
            sku["locationInfo"][0]["zones"] = ["1", "2"]
        return found

    arm.skus = without_zone_3
    document = _job("create", 3)
    document["cluster"]["name"] = "other-weu"
    message = _failure(_run(session, document))
    assert "node_pools[0].zones: Standard_D4s_v5 is not offered in zone(s) 3" in message


def test_a_full_vcpu_quota_is_refused_by_name(session: SandboxSession) -> None:
    assert _run(session, _job("create", 4)).status is JobStatus.SUCCEEDED
    arm = _arm(session)
    quotas = [u for u in usages() if u["name"]["value"] != "standardDSv5Family"]
    arm.usages["westeurope"] = [*quotas, usage("standardDSv5Family", "DSv5 vCPUs", 96, 100)]
    document = _job("create", 5)
    document["cluster"]["name"] = "third-weu"
    result = _run(session, document)
    message = _failure(result)
    assert result.error is not None
    assert result.error.kind == QuotaError.__name__
    assert "quota standardDSv5Family" in message
    assert "96 of 100 vCPUs used, the new cluster's nodes need 8" in message


def test_spot_pools_count_against_the_low_priority_quota(session: SandboxSession) -> None:
    assert _run(session, _job("create", 6)).status is JobStatus.SUCCEEDED
    pools = example()["cluster"]["provider"]["node_pools"]
    pools[1]["count"] = 3
    quotas = [u for u in usages() if u["name"]["value"] != "lowPriorityCores"]
    _arm(session).usages["westeurope"] = [*quotas, usage("lowPriorityCores", "Spot", 0, 16)]
    document = _job("create", 7, node_pools=pools)
    document["cluster"]["name"] = "spot-weu"
    assert "quota lowPriorityCores" in _failure(_run(session, document))


def test_upgrades_go_one_minor_version_at_a_time(session: SandboxSession) -> None:
    assert _run(session, _job("create", 8, "1.32")).status is JobStatus.SUCCEEDED
    skipping = _failure(_run(session, _job("upgrade", 9, "1.34")))
    assert "one minor version at a time, from 1.32 to 1.33 next" in skipping
    upgraded = _run(session, _job("upgrade", 10, "1.33"))
    assert upgraded.status is JobStatus.SUCCEEDED, upgraded.error
    assert upgraded.outputs["azure.apply"]["cluster_version"] == "1.33"
    backwards = _failure(_run(session, _job("upgrade", 11, "1.32")))
    assert "AKS does not downgrade" in backwards


def test_an_upgrade_of_no_cluster_is_refused(session: SandboxSession) -> None:
    assert "there is nothing to upgrade" in _failure(_run(session, _job("upgrade", 12, "1.33")))


def test_a_create_of_a_paused_cluster_keeps_it_paused(session: SandboxSession) -> None:
    assert _run(session, _job("create", 13)).status is JobStatus.SUCCEEDED
    paused = _run(session, _job("pause", 14))
    assert paused.status is JobStatus.SUCCEEDED, paused.error
    stops = [r for r in _arm(session).state.requests if r.path.endswith("/stop")]
    assert len(stops) == 1
    twice = _run(session, _job("pause", 17))
    assert twice.status is JobStatus.SUCCEEDED, twice.error
    assert [r for r in _arm(session).state.requests if r.path.endswith("/stop")] == stops
    again = _run(session, _job("create", 15))
    assert again.status is JobStatus.SUCCEEDED, again.error
    assert again.outputs["azure.preflight"]["power_state"] == "Stopped"
    assert dict(again.outputs["azure.apply"]) == {}
    resumed = _run(session, _job("resume", 16))
    assert resumed.status is JobStatus.SUCCEEDED, resumed.error
    assert resumed.outputs["azure.start"]["power_state"] == "Running"
    assert resumed.outputs["azure.apply"]["cluster_name"] == "prod-weu"


def test_no_free_public_ip_is_refused_by_name(session: SandboxSession) -> None:
    assert _run(session, _job("create", 18)).status is JobStatus.SUCCEEDED
    _arm(session).network_usages["westeurope"] = [
        usage("StandardSkuPublicIpAddresses", "Public IP Addresses - Standard", 10, 10)
    ]
    document = _job("create", 19)
    document["cluster"]["name"] = "noip-weu"
    result = _run(session, document)
    message = _failure(result)
    assert result.error is not None
    assert result.error.kind == QuotaError.__name__
    assert "quota StandardSkuPublicIpAddresses" in message
    assert "10 of 10 used, the new cluster's load balancer needs 1" in message
