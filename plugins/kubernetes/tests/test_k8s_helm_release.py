"""Helm services deployed with the real helm binary against the simulator (a local chart)."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from k8s_support import Deploy, mutating

from qengine import EventType
from qengine.runner import JobStatus
from qengine.testing.kube import KubeSimulator

Example = Callable[[str], dict[str, Any]]
NS = "qe-quickstart-1a5010"
CHART = """apiVersion: v2
name: demo
version: 0.1.0
"""
TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-password
stringData:
  password: {{ .Values.password | quote }}
"""


def _chart(root: Path) -> None:
    chart = root / "charts" / "demo"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART)
    (chart / "templates" / "objects.yaml").write_text(TEMPLATE)


def _doc(example: Example, greeting: str) -> dict[str, Any]:
    doc = example("quickstart")
    doc["environment"]["services"] = [
        {
            "kind": "helm",
            "name": "cache",
            "chart": {"name": "demo", "path": "charts/demo"},
            "values": {"greeting": greeting, "password": {"secret": "db_password"}},
            "timeout": "2m",
        }
    ]
    return doc


def _release(sim: KubeSimulator, revision: int) -> dict[str, Any] | None:
    return sim.get_object("secrets", NS, f"sh.helm.release.v1.cache.v{revision}")


def test_k8s_helm_release_installs_upgrades_and_is_a_noop_when_unchanged(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example, helm_binary: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    _chart(tmp_path)
    settings = {"helm": str(helm_binary), "chart_root": str(tmp_path)}

    first = k8s_deploy(_doc(example, "hello"), job_id="h1", **settings)

    assert first.result.status is JobStatus.SUCCEEDED, first.result.error
    settings_map = k8s_sim.get_object("configmaps", NS, "cache-settings")
    assert settings_map is not None
    assert settings_map["data"]["greeting"] == "hello"
    assert _release(k8s_sim, 1) is not None
    assert any(line.startswith("helm: ") for line in first.messages(EventType.LOG))
    assert "demo-only" not in " ".join(first.messages(EventType.LOG))
    assert not list(tmp_path.glob("**/values.yaml"))
    k8s_sim.clear_requests()

    again = k8s_deploy(_doc(example, "hello"), job_id="h2", **settings)

    assert again.result.status is JobStatus.SUCCEEDED, again.result.error
    assert mutating(k8s_sim) == []

    upgraded = k8s_deploy(_doc(example, "bonjour"), job_id="h3", **settings)

    assert upgraded.result.status is JobStatus.SUCCEEDED, upgraded.result.error
    settings_map = k8s_sim.get_object("configmaps", NS, "cache-settings")
    assert settings_map is not None
    assert settings_map["data"]["greeting"] == "bonjour"
    assert _release(k8s_sim, 2) is not None


def _mark_pending(sim: KubeSimulator, revision: int) -> None:
    secret = _release(sim, revision)
    assert secret is not None
    blob = base64.b64decode(base64.b64decode(secret["data"]["release"]))
    release = json.loads(gzip.decompress(blob))
    release["info"]["status"] = "pending-install"
    encoded = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    secret["data"]["release"] = base64.b64encode(encoded.encode()).decode()
    secret["metadata"]["labels"]["status"] = "pending-install"
    name = secret["metadata"]["name"]
    assert sim.get_object("secrets", NS, name) is not None
    _replace(sim, secret)


def _replace(sim: KubeSimulator, secret: dict[str, Any]) -> None:
    import ssl
    import urllib.request

    context = ssl.create_default_context(cadata=_text(sim.ca_pem))
    request = urllib.request.Request(
        f"{sim.url}/api/v1/namespaces/{NS}/secrets/{secret['metadata']['name']}",
        data=json.dumps(secret).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {sim.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context) as answer:
        assert answer.status == 200


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def test_k8s_helm_release_stuck_pending_at_revision_1_is_reinstalled(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example, helm_binary: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    _chart(tmp_path)
    settings = {"helm": str(helm_binary), "chart_root": str(tmp_path)}
    assert k8s_deploy(_doc(example, "a"), job_id="p1", **settings).result.status.value == (
        "succeeded"
    )
    _mark_pending(k8s_sim, 1)

    recovered = k8s_deploy(_doc(example, "b"), job_id="p2", **settings)

    assert recovered.result.status is JobStatus.SUCCEEDED, recovered.result.error
    assert any("stuck" in w for w in recovered.messages(EventType.WARNING))
    settings_map = k8s_sim.get_object("configmaps", NS, "cache-settings")
    assert settings_map is not None
    assert settings_map["data"]["greeting"] == "b"


def test_k8s_a_removed_helm_service_is_uninstalled(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example, helm_binary: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    _chart(tmp_path)
    settings = {"helm": str(helm_binary), "chart_root": str(tmp_path)}
    doc = _doc(example, "hi")
    doc["environment"]["services"].append(
        {"kind": "container", "name": "web", "image": "example.org/web", "tag": "1"}
    )
    assert k8s_deploy(doc, job_id="u1", **settings).result.status is JobStatus.SUCCEEDED
    assert _release(k8s_sim, 1) is not None
    doc["environment"]["services"] = doc["environment"]["services"][1:]

    pruned = k8s_deploy(doc, job_id="u2", **settings).result

    assert pruned.status is JobStatus.SUCCEEDED, pruned.error
    assert _release(k8s_sim, 1) is None
    assert k8s_sim.get_object("configmaps", NS, "cache-settings") is None
    assert k8s_sim.get_object("secrets", NS, "qengine-history-cache") is None
    assert k8s_sim.get_object("deployments.apps", NS, "web") is not None


def _cancel_after_cache(token: Any) -> Callable[[Any], None]:
    def watch(event: Any) -> None:
        if event.type is EventType.STEP_FINISHED and event.step_id == "kubernetes/service/cache":
            token.cancel("SIGTERM")

    return watch


def _with_follower(doc: dict[str, Any]) -> dict[str, Any]:
    """A container that waits for the release: the job is still running when it is done."""
    doc["environment"]["services"].append(
        {
            "kind": "container",
            "name": "after",
            "image": "registry.k8s.io/pause",
            "tag": "3.9",
            "depends_on": ["cache"],
        }
    )
    return doc


def test_k8s_a_cancelled_job_rolls_its_helm_upgrade_back(
    k8s_plugins: Any, k8s_sim: KubeSimulator, example: Example, helm_binary: Path, tmp_path: Path
) -> None:
    from k8s_support import DEMO_SECRETS, sim_settings

    from qengine import Engine
    from qengine.interfaces.cancel import CancelToken
    from qengine.runner import MemoryStateStore

    _chart(tmp_path)
    settings = sim_settings(k8s_sim, helm=str(helm_binary), chart_root=str(tmp_path))
    engine = Engine(k8s_plugins, store=MemoryStateStore(), settings={"kubernetes": settings})
    first = engine.run({**_doc(example, "hello"), "id": "h1"}, sandbox_secrets=DEMO_SECRETS)
    assert first.status is JobStatus.SUCCEEDED, first.error
    token = CancelToken()

    upgrade = engine.run(
        {**_with_follower(_doc(example, "bonjour")), "id": "h2"},
        sandbox_secrets=DEMO_SECRETS,
        cancel=token,
        on_event=_cancel_after_cache(token),
    )

    assert upgrade.status is JobStatus.CANCELLED
    assert "kubernetes/service/cache" in upgrade.rolled_back
    settings_map = k8s_sim.get_object("configmaps", NS, "cache-settings")
    assert settings_map is not None
    assert settings_map["data"]["greeting"] == "hello"
    assert _release(k8s_sim, 3) is not None  # helm rollback writes a new revision


def test_k8s_a_cancelled_job_uninstalls_the_release_it_installed(
    k8s_plugins: Any, k8s_sim: KubeSimulator, example: Example, helm_binary: Path, tmp_path: Path
) -> None:
    from k8s_support import DEMO_SECRETS, sim_settings

    from qengine import Engine
    from qengine.interfaces.cancel import CancelToken
    from qengine.runner import MemoryStateStore

    _chart(tmp_path)
    settings = sim_settings(k8s_sim, helm=str(helm_binary), chart_root=str(tmp_path))
    engine = Engine(k8s_plugins, store=MemoryStateStore(), settings={"kubernetes": settings})
    token = CancelToken()

    result = engine.run(
        {**_with_follower(_doc(example, "hello")), "id": "h1"},
        sandbox_secrets=DEMO_SECRETS,
        cancel=token,
        on_event=_cancel_after_cache(token),
    )

    assert result.status is JobStatus.CANCELLED
    assert "kubernetes/service/cache" in result.rolled_back
    assert k8s_sim.get_object("configmaps", NS, "cache-settings") is None
    assert _release(k8s_sim, 1) is None
    assert k8s_sim.get_object("secrets", NS, "qengine-history-cache") is None


def test_k8s_chart_words_reach_helm_as_flag_values_never_as_flags() -> None:
    from qengine_kubernetes.helm_release import _as_flags

    words = ["-evil", "--repo", "--post-renderer=x", "--username", "u", "--version", "1.0"]
    where, flags = _as_flags(words)

    assert where == "-evil"  # passed after "--": helm reads it as the chart, not a flag
    assert flags == ["--repo=--post-renderer=x", "--username=u", "--version=1.0"]
