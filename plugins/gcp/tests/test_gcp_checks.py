"""Offline checks of GCP infrastructure jobs, through the plugin loaded from its entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gcp_support import EXAMPLE, example, run_qengine
from qengine_gcp import GcpProvider

from qengine import SpecError, load_plugins

Change = Callable[[dict[str, Any]], object]


def _paths(document: dict[str, Any]) -> set[str]:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"})
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(document)
    return {issue.path for issue in caught.value.issues}


def test_example_loads_into_the_gcp_section() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"})
    job = plugins.loader.load(example())
    provider = job.cluster.provider  # type: ignore[union-attr]
    assert isinstance(provider, GcpProvider)
    assert provider.node_pools[1].spot
    assert provider.network.pods == "10.48.0.0/14"


def _pool(index: int, **values: object) -> Change:
    return lambda p: p["node_pools"][index].update(values)


def _net(**values: object) -> Change:
    return lambda p: p["network"].update(values)


BAD: list[tuple[str, Change, str]] = [
    ("project", lambda p: p.update(project="Acme"), "project"),
    ("region", lambda p: p.update(region="moon-west1"), "region"),
    ("zone-of-other-region", lambda p: p.update(zones=["us-east1-b"]), "zones[0]"),
    ("zone-twice", lambda p: p.update(zones=["europe-west1-b"] * 2), "zones[1]"),
    ("no-identity", lambda p: p.pop("service_account"), "service_account"),
    ("bad-sa", lambda p: p.update(service_account="deployer@gmail.com"), "service_account"),
    ("bad-delegate", lambda p: p.update(delegates=["root"]), "delegates[0]"),
    ("nodes-public", _net(nodes="8.8.0.0/20"), "network.nodes"),
    ("nodes-too-small", _net(nodes="10.40.0.0/30"), "network.nodes"),
    ("nodes-ipv6", _net(nodes="fd00::/64"), "network.nodes"),
    ("pods-overlap-nodes", _net(pods="10.40.0.0/14"), "network.pods"),
    ("services-overlap-pods", _net(services="10.48.16.0/20"), "network.services"),
    ("services-too-big", _net(services="10.64.0.0/12"), "network.services"),
    ("control-plane-not-28", _net(control_plane="172.16.0.0/24"), "network.control_plane"),
    ("control-plane-public", _net(control_plane="198.51.100.0/28"), "network.control_plane"),
    ("pods-too-few", _net(pods="10.48.0.0/21"), "network.pods"),
    ("subnet-too-few", _net(nodes="10.40.0.0/28"), "network.nodes"),
    ("no-pools", lambda p: p.update(node_pools=[]), "node_pools"),
    ("pool-twice", lambda p: p["node_pools"][1].update(name="general"), "node_pools[1].name"),
    ("machine-type", _pool(0, machine_type="large"), "node_pools[0].machine_type"),
    ("min-above-max", _pool(0, min_nodes=9), "node_pools[0].max_nodes"),
    ("negative-min", _pool(0, min_nodes=-1), "node_pools[0].min_nodes"),
    ("max-zero", _pool(1, max_nodes=0), "node_pools[1].max_nodes"),
    ("too-many-nodes", _pool(1, max_nodes=1001), "node_pools[1].max_nodes"),
    ("initial-outside", _pool(0, initial_nodes=7), "node_pools[0].initial_nodes"),
    ("disk-type", _pool(0, disk_type="floppy"), "node_pools[0].disk_type"),
    ("disk-size", _pool(0, disk_size_gb=5), "node_pools[0].disk_size_gb"),
    ("pods-per-node", _pool(0, max_pods_per_node=500), "node_pools[0].max_pods_per_node"),
    ("channel", lambda p: p.update(release_channel="nightly"), "release_channel"),
    ("private-endpoint", lambda p: p.update(private_nodes=False, private_endpoint=True),
     "private_endpoint"),
    ("authorized-everyone", lambda p: p["authorized_networks"][0].update(cidr="0.0.0.0/0"),
     "authorized_networks[0].cidr"),
    ("authorized-ipv6", lambda p: p["authorized_networks"][0].update(cidr="2001:db8::/32"),
     "authorized_networks[0].cidr"),
    ("authorized-too-many",
     lambda p: p.update(authorized_networks=[{"cidr": f"198.51.{i}.0/24"} for i in range(51)]),
     "authorized_networks"),
    ("bucket-upper", lambda p: p["state"].update(bucket="Acme_State"), "state.bucket"),
    ("bucket-google", lambda p: p["state"].update(bucket="my-google-state"), "state.bucket"),
    ("bucket-location", lambda p: p["state"].update(location="moon"), "state.location"),
    ("kms-key-form", lambda p: p["state"].update(kms_key="my-key"), "state.kms_key"),
    ("kms-key-elsewhere",
     lambda p: p["state"].update(
         kms_key="projects/acme-platform-prod/locations/us-east1/keyRings/r/cryptoKeys/k"),
     "state.kms_key"),
    ("label-key", lambda p: p["labels"].update({"Team": "x"}), "labels.Team"),
    ("label-value", lambda p: p["labels"].update({"owner": "Jane Doe"}), "labels.owner"),
    ("wif-audience",
     lambda p: p.update(workload_identity={"audience": "pool", "subject_token": {"secret": "t"}}),
     "workload_identity.audience"),
    ("wif-token-type",
     lambda p: p.update(workload_identity={
         "audience": "//iam.googleapis.com/projects/123/locations/global/"
                     "workloadIdentityPools/ci-pool/providers/github",
         "subject_token": {"secret": "t"}, "subject_token_type": "password"}),
     "workload_identity.subject_token_type"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "path"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_cluster_settings_are_refused_with_their_path(change: Change, path: str) -> None:
    document = example()
    change(document["cluster"]["provider"])
    assert f"$.cluster.provider.{path}" in _paths(document)


def test_only_the_faulty_value_is_named() -> None:
    document = example()
    document["cluster"]["provider"]["network"]["services"] = "10.48.16.0/20"
    assert _paths(document) == {"$.cluster.provider.network.services"}


def test_a_secret_that_is_not_a_reference_is_refused() -> None:
    document = example()
    document["cluster"]["provider"]["workload_identity"] = {
        "audience": "//iam.googleapis.com/projects/123/locations/global/"
        "workloadIdentityPools/ci-pool/providers/github",
        "subject_token": "eyJhbGciOiJSUzI1NiJ9.plain-text-token",
    }
    assert "$.cluster.provider.workload_identity.subject_token" in _paths(document)


def test_unknown_keys_are_refused() -> None:
    document = example()
    document["cluster"]["provider"]["credentials_file"] = "/root/key.json"
    assert "$.cluster.provider.credentials_file" in _paths(document)


@pytest.mark.parametrize(("version", "refused"), [("1.21", True), ("1.40", True), ("1.33", False)])
def test_kubernetes_version_gke_does_not_offer(version: str, refused: bool) -> None:
    document = example()
    document["cluster"]["kubernetes_version"] = version
    if refused:
        assert _paths(document) == {"$.cluster.kubernetes_version"}
    else:
        load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"}).loader.load(document)


def test_long_cluster_name_is_refused() -> None:
    document = example()
    document["cluster"]["name"] = "a" * 41
    assert "$.cluster.name" in _paths(document)


def test_workload_identity_alone_is_enough() -> None:
    document = example()
    provider = document["cluster"]["provider"]
    del provider["service_account"]
    provider["workload_identity"] = {
        "audience": "//iam.googleapis.com/projects/123/locations/global/"
        "workloadIdentityPools/ci-pool/providers/github",
        "subject_token": {"secret": "ci_oidc_token"},
    }
    load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"}).loader.load(document)


def test_validate_exits_2_naming_the_path_and_applies_nothing(tmp_path: Path) -> None:
    document = example()
    document["cluster"]["provider"]["network"]["pods"] = "10.40.0.0/14"
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(document))
    for command in ("validate", "plan"):
        result = run_qengine(tmp_path, command, str(spec))
        assert result.returncode == 2, result.stderr
        assert "$.cluster.provider.network.pods" in result.stderr
        assert "overlaps network.nodes" in result.stderr


def test_validation_imports_no_google_sdk() -> None:
    script = (
        "import sys; from qengine import load_plugins; "
        f"load_plugins(strict=True).loader.read(__import__('pathlib').Path({str(EXAMPLE)!r})); "
        "print(sorted(m for m in sys.modules if m == 'google' or m.startswith('google.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_plan_lists_the_steps_offline_without_a_google_sdk() -> None:
    pause = EXAMPLE.with_name("pause.json")
    script = (
        "import sys; from qengine.cli import main; "
        f"code = main(['plan', {str(pause)!r}]); "
        "print(code, sorted(m for m in sys.modules if m == 'google' or m.startswith('google.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "QENGINE_PLUGINS": "gcp"},
    )
    assert result.stdout.strip().splitlines()[-1] == "0 []"
    for step in ("gcp.save-node-pool-sizes", "gcp.apply", "gcp.scale-node-pools"):
        assert step in result.stdout
