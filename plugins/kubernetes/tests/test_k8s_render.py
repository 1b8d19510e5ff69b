"""Rendering each service kind to Kubernetes objects: the fields that matter, per kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from qengine_kubernetes.render import RenderedEnvironment, canonical_json, render_environment
from qengine_kubernetes.render.names import namespace_name

from qengine.spec import EnvironmentJob

Load = Callable[[dict[str, Any]], EnvironmentJob]
Example = Callable[[str], dict[str, Any]]
HASH = "qengine.dev/secrets-hash"


def _render(job: EnvironmentJob, **secrets: str) -> RenderedEnvironment:
    return render_environment(
        job.environment, open_secret=lambda name: secrets.get(name, f"value-of-{name}")
    )


def _obj(rendered: RenderedEnvironment, kind: str, name: str) -> dict[str, Any]:
    found = [o for o in rendered.objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def _env_job(example: Example, services: list[dict[str, Any]]) -> dict[str, Any]:
    doc = example("quickstart")
    doc["environment"]["services"] = services
    return doc


def _container(rendered: RenderedEnvironment, kind: str, name: str) -> dict[str, Any]:
    spec = _obj(rendered, kind, name)["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if kind == "CronJob" else spec["template"]
    container: dict[str, Any] = template["spec"]["containers"][0]
    return container


def test_k8s_namespace_is_derived_labelled_and_isolated(
    load_env_job: Load, example: Example
) -> None:
    doc = example("quickstart")
    doc["environment"]["quota"] = {"cpu": "4", "memory": "8Gi", "pods": 20}
    rendered = _render(load_env_job(doc))
    assert rendered.namespace == "qe-quickstart-1a5010"
    namespace = _obj(rendered, "Namespace", rendered.namespace)
    assert namespace["metadata"]["labels"]["qengine.dev/environment-id"] == "env-quickstart"
    policy = _obj(rendered, "NetworkPolicy", "qengine-isolation")["spec"]
    assert policy["podSelector"] == {}
    assert policy["policyTypes"] == ["Ingress"]
    sources = policy["ingress"][0]["from"]
    assert {"podSelector": {}} in sources
    expression = sources[1]["namespaceSelector"]["matchExpressions"][0]
    assert expression["key"] == "kubernetes.io/metadata.name"
    assert "qengine-system" in expression["values"]
    quota = _obj(rendered, "ResourceQuota", "qengine-quota")["spec"]["hard"]
    assert quota == {"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20"}
    assert (
        _obj(rendered, "LimitRange", "qengine-limits")["spec"]["limits"][0]["type"] == "Container"
    )


def test_k8s_namespace_name_is_dns_safe_and_unique_per_environment_id(
    load_env_job: Load, example: Example
) -> None:
    doc = example("quickstart")
    doc["environment"]["name"] = "a" * 63
    long_name = namespace_name(load_env_job(doc).environment)
    doc["environment"]["id"] = "another-env"
    other = namespace_name(load_env_job(doc).environment)
    assert len(long_name) == 63
    assert long_name.startswith("qe-aaa")
    assert long_name != other


def test_k8s_no_isolation_and_no_quota_when_not_asked(load_env_job: Load, example: Example) -> None:
    doc = example("quickstart")
    doc["environment"]["network_isolation"] = False
    kinds = {o["kind"] for o in _render(load_env_job(doc)).environment_objects}
    assert kinds == {"Namespace"}


def test_k8s_every_object_is_labelled_and_namespaced(load_env_job: Load, example: Example) -> None:
    for name in ("quickstart", "all-kinds"):
        rendered = _render(load_env_job(example(name)))
        for obj in rendered.objects():
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "qengine"
            assert {"app.kubernetes.io/name", "app.kubernetes.io/instance"} <= set(labels)
            assert (
                labels["qengine.dev/environment-id"]
                == rendered.environment_objects[0]["metadata"]["labels"][
                    "qengine.dev/environment-id"
                ]
            )
            if obj["kind"] != "Namespace":
                assert obj["metadata"]["namespace"] == rendered.namespace
        for service in rendered.services:
            for obj in service.objects:
                assert obj["metadata"]["labels"]["qengine.dev/service-id"] == service.name


def test_k8s_container_becomes_deployment_service_account_hpa(
    load_env_job: Load, example: Example
) -> None:
    rendered = _render(load_env_job(example("quickstart")), session_key="s3cr3t")
    web = rendered.service("web")
    assert [o["kind"] for o in web.objects] == [
        "Deployment",
        "ServiceAccount",
        "Service",
        "HorizontalPodAutoscaler",
        "Secret",
    ]
    deployment = _obj(rendered, "Deployment", "web")
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "web"
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/example/shop-api:1.4.2"
    assert container["ports"] == [{"name": "port-8080", "containerPort": 8080, "protocol": "TCP"}]
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"memory": "512Mi"},
    }
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_HOST"] == {"name": "DATABASE_HOST", "value": "db"}
    assert env["SESSION_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "web-env",
        "key": "SESSION_KEY",
    }
    assert [e["name"] for e in container["env"]] == sorted(env)
    secret = _obj(rendered, "Secret", "web-env")
    assert secret["stringData"]["SESSION_KEY"] == "s3cr3t"
    service = _obj(rendered, "Service", "web")["spec"]
    assert service["ports"][0]["port"] == 8080
    assert service["selector"] == deployment["spec"]["selector"]["matchLabels"]
    hpa = _obj(rendered, "HorizontalPodAutoscaler", "web")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


def test_k8s_volumes_make_a_statefulset_and_files_a_configmap(
    load_env_job: Load, example: Example
) -> None:
    rendered = _render(load_env_job(example("all-kinds")))
    statefulset = _obj(rendered, "StatefulSet", "api")["spec"]
    claim = statefulset["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "cache"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    container = statefulset["template"]["spec"]["containers"][0]
    assert container["image"] == "built-image-of-api"
    assert container["livenessProbe"]["tcpSocket"] == {"port": 3000}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/var/cache/api"]["name"] == "cache"
    file_mount = mounts["/etc/api/config.yaml"]
    config = _obj(rendered, "ConfigMap", "api-files")
    assert config["data"][file_mount["subPath"]] == "level: info"
    assert file_mount["readOnly"] is True


def test_k8s_application_image_is_the_built_one(load_env_job: Load, example: Example) -> None:
    job = load_env_job(example("all-kinds"))
    rendered = render_environment(
        job.environment, open_secret=lambda n: "x", images={"api": "registry.local/api@sha256:ab"}
    )
    assert _container(rendered, "StatefulSet", "api")["image"] == "registry.local/api@sha256:ab"


def test_k8s_registry_auth_makes_a_pull_secret(load_env_job: Load, example: Example) -> None:
    rendered = _render(load_env_job(example("all-kinds")), registry_password="pw")
    pod = _obj(rendered, "Deployment", "pinned")["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "pinned-pull"}]
    assert pod["containers"][0]["image"].endswith("/team/pinned@sha256:" + "a" * 64)
    secret = _obj(rendered, "Secret", "pinned-pull")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    config = secret["stringData"][".dockerconfigjson"]
    assert config == '{"auths":{"registry.example.com:5000":{"password":"pw","username":"robot"}}}'


def test_k8s_pdb_probes_secret_files_and_udp(load_env_job: Load, example: Example) -> None:
    doc = _env_job(
        example,
        [
            {
                "kind": "container",
                "name": "dns",
                "image": "example/dns",
                "tag": "1",
                "replicas": 3,
                "min_available": 2,
                "ports": [{"port": 53, "protocol": "UDP", "name": "dns"}, {"port": 9090}],
                "readiness_probe": {"type": "grpc", "port": 9090},
                "liveness_probe": {"type": "exec", "command": ["/bin/check"]},
                "files": [{"path": "/etc/dns/key", "content": {"secret": "dns_key"}}],
                "command": ["/dns"],
                "args": ["--verbose"],
            }
        ],
    )
    rendered = _render(load_env_job(doc), dns_key="k3y")
    pdb = _obj(rendered, "PodDisruptionBudget", "dns")["spec"]
    assert pdb["minAvailable"] == 2
    deployment = _obj(rendered, "Deployment", "dns")["spec"]
    assert deployment["replicas"] == 3
    container = deployment["template"]["spec"]["containers"][0]
    assert container["command"] == ["/dns"]
    assert container["args"] == ["--verbose"]
    assert container["readinessProbe"]["grpc"] == {"port": 9090}
    assert container["livenessProbe"]["exec"] == {"command": ["/bin/check"]}
    assert container["ports"][0]["protocol"] == "UDP"
    files = _obj(rendered, "Secret", "dns-files")
    assert list(files["stringData"].values()) == ["k3y"]
    assert HASH in deployment["template"]["metadata"]["annotations"]
    volume = deployment["template"]["spec"]["volumes"][0]
    assert volume == {"name": "qengine-files", "secret": {"secretName": "dns-files"}}


@pytest.mark.parametrize(
    ("engine", "image", "port", "probe", "password_env"),
    [
        ("postgresql", "docker.io/library/postgres:16", 5432, "pg_isready", "POSTGRES_PASSWORD"),
        ("mysql", "docker.io/library/mysql:16", 3306, "mysqladmin", "MYSQL_PASSWORD"),
        ("mongodb", "docker.io/library/mongo:16", 27017, "mongosh", "MONGO_INITDB_ROOT_PASSWORD"),
        ("redis", "docker.io/library/redis:16", 6379, "redis-cli", "REDISCLI_AUTH"),
    ],
)
def test_k8s_database_engines(
    load_env_job: Load,
    example: Example,
    engine: str,
    image: str,
    port: int,
    probe: str,
    password_env: str,
) -> None:
    database = {
        "kind": "database",
        "name": "db",
        "engine": engine,
        "version": "16",
        "storage": "20Gi",
        "storage_class": "fast",
        "username": "app",
        "password": {"secret": "db_password"},
    }
    rendered = _render(load_env_job(_env_job(example, [database])), db_password="pw")
    statefulset = _obj(rendered, "StatefulSet", "db")["spec"]
    assert statefulset["replicas"] == 1
    claim = statefulset["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "20Gi"
    assert claim["storageClassName"] == "fast"
    container = statefulset["template"]["spec"]["containers"][0]
    assert container["image"] == image
    assert container["ports"][0]["containerPort"] == port
    assert probe in " ".join(container["readinessProbe"]["exec"]["command"])
    env = {e["name"]: e for e in container["env"]}
    ref = env[password_env]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "db-credentials", "key": "password"}
    credentials = _obj(rendered, "Secret", "db-credentials")["stringData"]
    assert credentials == {"username": "app", "password": "pw"}
    assert _obj(rendered, "Service", "db")["spec"]["ports"][0]["port"] == port
    if engine == "redis":
        assert container["args"][-2:] == ["--requirepass", "$(REDISCLI_AUTH)"]


def test_k8s_managed_database_renders_nothing_and_says_so(
    load_env_job: Load, example: Example
) -> None:
    rendered = _render(load_env_job(example("all-kinds")))
    managed = rendered.service("cache-db")
    assert managed.objects == ()
    assert "managed" in managed.note
    assert rendered.service("redis-cache").objects == ()
    assert "helm" in rendered.service("redis-cache").note.lower()
    assert "not supported" in rendered.service("buckets").note


def test_k8s_hook_job_is_named_by_its_spec_and_carries_outputs(
    load_env_job: Load, example: Example
) -> None:
    rendered = _render(load_env_job(example("quickstart")))
    [job] = [o for o in rendered.service("migrate").objects if o["kind"] == "Job"]
    assert job["metadata"]["name"].startswith("migrate-")
    assert job["metadata"]["annotations"] == {"qengine.dev/hook": "before_start"}
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["volumes"] == [{"name": "qengine-output", "emptyDir": {}}]
    container = pod["containers"][0]
    assert {"name": "qengine-output", "mountPath": "/qengine/output"} in container["volumeMounts"]
    assert container["terminationMessagePath"] == "/qengine/output/output.json"

    doc = example("quickstart")
    doc["environment"]["services"][1]["command"] = ["/app/migrate", "--all"]
    [changed] = [
        o for o in _render(load_env_job(doc)).service("migrate").objects if o["kind"] == "Job"
    ]
    assert changed["metadata"]["name"] != job["metadata"]["name"]


def test_k8s_cron_job(load_env_job: Load, example: Example) -> None:
    doc = example("quickstart")
    doc["environment"]["services"][4]["schedule"].update(
        {"timezone": "Europe/Paris", "successful_jobs_history": 5, "failed_jobs_history": 2}
    )
    doc["environment"]["services"][4].update({"max_restarts": 3, "max_duration": "1h"})
    rendered = _render(load_env_job(doc))
    spec = _obj(rendered, "CronJob", "nightly-report")["spec"]
    assert spec["schedule"] == "30 2 * * *"
    assert spec["timeZone"] == "Europe/Paris"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (5, 2)
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 3
    assert job["activeDeadlineSeconds"] == 3600


def test_k8s_router_becomes_an_ingress(load_env_job: Load, example: Example) -> None:
    rendered = _render(load_env_job(example("all-kinds")), edge_basic_auth="user:$apr1$hash")
    ingress = _obj(rendered, "Ingress", "edge")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert annotations["nginx.ingress.kubernetes.io/whitelist-source-range"] == "203.0.113.0/24"
    assert annotations["nginx.ingress.kubernetes.io/auth-type"] == "basic"
    assert annotations["nginx.ingress.kubernetes.io/auth-secret"] == "edge-basic-auth"
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert [r["host"] for r in spec["rules"]] == ["api.example.com", "*.preview.example.com"]
    path = spec["rules"][0]["http"]["paths"][0]
    assert path["pathType"] == "Prefix"
    assert path["path"] == "/"
    assert path["backend"]["service"] == {"name": "api", "port": {"name": "http"}}
    assert spec["tls"] == [
        {"hosts": ["api.example.com", "*.preview.example.com"], "secretName": "edge-tls"}
    ]
    auth = _obj(rendered, "Secret", "edge-basic-auth")
    assert auth["stringData"] == {"auth": "user:$apr1$hash"}


def test_k8s_router_without_tls_has_no_issuer(load_env_job: Load, example: Example) -> None:
    doc = example("quickstart")
    doc["environment"]["services"][5]["tls"] = {"enabled": False}
    ingress = _obj(_render(load_env_job(doc)), "Ingress", "public")
    assert "tls" not in ingress["spec"]
    assert "annotations" not in ingress["metadata"]


def test_k8s_render_is_deterministic(load_env_job: Load, example: Example) -> None:
    for name in ("quickstart", "all-kinds"):
        first = [canonical_json(o) for o in _render(load_env_job(example(name))).objects()]
        second = [canonical_json(o) for o in _render(load_env_job(example(name))).objects()]
        assert first == second
        assert len(set(first)) == len(first)


def test_k8s_changed_secret_rolls_the_pods(load_env_job: Load, example: Example) -> None:
    job = load_env_job(example("quickstart"))

    def annotation(rendered: RenderedEnvironment) -> str:
        template = _obj(rendered, "Deployment", "web")["spec"]["template"]
        value: str = template["metadata"]["annotations"][HASH]
        return value

    before = annotation(_render(job, session_key="first-value"))
    again = annotation(_render(job, session_key="first-value"))
    after = annotation(_render(job, session_key="second-value"))
    assert before == again
    assert before != after
    assert "first-value" not in before
    assert len(before) == 64
    # The database's credentials count for the database's own pods.
    db = [_obj(_render(job, db_password=p), "StatefulSet", "db") for p in ("a1", "b2")]
    hashes = {d["spec"]["template"]["metadata"]["annotations"][HASH] for d in db}
    assert len(hashes) == 2
    # Another environment's key gives another hash of the same values.
    same = render_environment(job.environment, open_secret=lambda n: "first-value")
    keyed = render_environment(job.environment, open_secret=lambda n: "first-value", hash_key=b"k")
    assert annotation(keyed) != annotation(same)
