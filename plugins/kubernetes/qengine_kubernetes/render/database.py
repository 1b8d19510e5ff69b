"""Databases in container mode: a one-replica StatefulSet of the engine's official image, with
a volume claim, a credentials Secret, a readiness probe and a Service named like the database.

Managed databases are a cloud plugin's: nothing is rendered for them here.
"""

from __future__ import annotations

import attrs

from qengine.spec import (
    DatabaseEngine,
    DatabaseMode,
    DatabaseService,
    DnsLabel,
    Port,
    PortSpec,
    Probe,
    ProbeType,
    Protocol,
)
from qengine_kubernetes.render import names
from qengine_kubernetes.render.context import Manifest, RenderContext
from qengine_kubernetes.render.labels import selector, service_labels
from qengine_kubernetes.render.pod import PodInputs, pod_template
from qengine_kubernetes.render.secrets import opaque_secret
from qengine_kubernetes.render.workload import volume_claim

DATA_VOLUME = "data"


@attrs.frozen(kw_only=True)
class EngineProfile:
    """How one database engine runs from its official image."""

    image: str
    port: int
    data_path: str
    default_user: str
    # Environment variables the image reads, pointing at the credentials Secret's keys.
    user_env: str | None
    password_env: str
    readiness: tuple[str, ...]
    extra_env: tuple[tuple[str, str], ...] = ()
    args: tuple[str, ...] = ()


PROFILES: dict[DatabaseEngine, EngineProfile] = {
    DatabaseEngine.POSTGRESQL: EngineProfile(
        image="docker.io/library/postgres",
        port=5432,
        data_path="/var/lib/postgresql/data",
        default_user="postgres",
        user_env="POSTGRES_USER",
        password_env="POSTGRES_PASSWORD",  # noqa: S106 - the name of a variable
        # A volume's root holds lost+found, which initdb refuses: use a directory below it.
        extra_env=(("PGDATA", "/var/lib/postgresql/data/pgdata"),),
        readiness=("sh", "-c", 'pg_isready -h 127.0.0.1 -U "$POSTGRES_USER"'),
    ),
    DatabaseEngine.MYSQL: EngineProfile(
        image="docker.io/library/mysql",
        port=3306,
        data_path="/var/lib/mysql",
        default_user="root",
        user_env="MYSQL_USER",
        password_env="MYSQL_PASSWORD",  # noqa: S106 - the name of a variable
        # ping answers 0 whenever the server is up, even to a refused login: no password needed.
        readiness=("mysqladmin", "ping", "-h", "127.0.0.1"),
    ),
    DatabaseEngine.MONGODB: EngineProfile(
        image="docker.io/library/mongo",
        port=27017,
        data_path="/data/db",
        default_user="root",
        user_env="MONGO_INITDB_ROOT_USERNAME",
        password_env="MONGO_INITDB_ROOT_PASSWORD",  # noqa: S106 - the name of a variable
        readiness=("mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"),
    ),
    DatabaseEngine.REDIS: EngineProfile(
        image="docker.io/library/redis",
        port=6379,
        data_path="/data",
        default_user="default",
        user_env=None,
        # redis-cli reads REDISCLI_AUTH, so the probe authenticates without the password
        # appearing in its command line.
        password_env="REDISCLI_AUTH",  # noqa: S106 - the name of a variable
        readiness=("redis-cli", "ping"),
        args=("--appendonly", "yes"),
    ),
}


def render_database(ctx: RenderContext, service: DatabaseService) -> list[Manifest]:
    """The objects of a database in container mode; none for a managed database."""
    if service.mode is not DatabaseMode.CONTAINER:
        return []
    profile = PROFILES[service.engine]
    labels = service_labels(ctx.environment, service.name)
    credentials = _credentials(ctx, service, profile)
    inputs = PodInputs(
        service=service.name,
        image=f"{profile.image}:{service.version}",
        labels=labels,
        args=_args(service, profile),
        resources=service.resources,
        ports=(
            PortSpec(
                port=Port(profile.port),
                name=DnsLabel(service.engine.value),
                protocol=Protocol.TCP,
            ),
        ),
        readiness=Probe(type=ProbeType.EXEC, command=profile.readiness, period_seconds=5),
        mounts=[{"name": DATA_VOLUME, "mountPath": profile.data_path}],
        extra_env=_env(service, profile, credentials),
        read_secrets=[credentials] if credentials else [],
    )
    pod = pod_template(ctx, inputs)
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": ctx.metadata(service.name, labels),
        "spec": {
            "replicas": 1,
            "serviceName": service.name,
            "selector": {"matchLabels": selector(ctx.environment, service.name)},
            "template": pod.template,
            "volumeClaimTemplates": [
                volume_claim(DATA_VOLUME, service.storage, service.storage_class)
            ],
        },
    }
    objects = [statefulset, _service(ctx, service, profile)]
    return [*objects, *([credentials] if credentials else [])]


def _credentials(
    ctx: RenderContext, service: DatabaseService, profile: EngineProfile
) -> Manifest | None:
    if service.password is None:
        return None
    values = {
        "username": service.username or profile.default_user,
        "password": ctx.open_secret(service.password.secret),
    }
    labels = service_labels(ctx.environment, service.name)
    return opaque_secret(ctx, names.credentials_secret(service.name), labels, values)


def _ref(secret: Manifest, key: str) -> Manifest:
    return {"secretKeyRef": {"name": secret["metadata"]["name"], "key": key}}


def _env(
    service: DatabaseService, profile: EngineProfile, credentials: Manifest | None
) -> list[Manifest]:
    env: list[Manifest] = [{"name": k, "value": v} for k, v in profile.extra_env]
    if credentials is None:
        return env
    password_env = profile.password_env
    user_env = profile.user_env
    if service.engine is DatabaseEngine.MYSQL and (service.username or "root") == "root":
        # The image creates root itself; MYSQL_USER=root is refused.
        password_env, user_env = "MYSQL_ROOT_PASSWORD", None
    elif service.engine is DatabaseEngine.MYSQL:
        env += [
            {"name": "MYSQL_DATABASE", "value": service.username or "app"},
            {"name": "MYSQL_RANDOM_ROOT_PASSWORD", "value": "yes"},
        ]
    if user_env:
        env.append({"name": user_env, "valueFrom": _ref(credentials, "username")})
    env.append({"name": password_env, "valueFrom": _ref(credentials, "password")})
    return env


def _args(service: DatabaseService, profile: EngineProfile) -> tuple[str, ...]:
    if service.engine is DatabaseEngine.REDIS and service.password is not None:
        # $(VAR) in args is expanded by the kubelet from the container's environment.
        return (*profile.args, "--requirepass", "$(REDISCLI_AUTH)")
    return profile.args


def _service(ctx: RenderContext, service: DatabaseService, profile: EngineProfile) -> Manifest:
    labels = service_labels(ctx.environment, service.name)
    name = service.engine.value[:15]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ctx.metadata(service.name, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(ctx.environment, service.name),
            "ports": [{"name": name, "port": profile.port, "targetPort": name, "protocol": "TCP"}],
        },
    }
