"""Checks of an environment job bound for a Kubernetes target; no network, no SDK.

They catch what the spec's own checks cannot, because it depends on how services become
objects: names too long or colliding once derived, hosts claimed by two routers, job output
patterns that are not regular expressions, time zones the cluster would not know, and
dependencies that run against the deploy stages.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Iterator, Sequence

from qengine import SpecIssue
from qengine.spec import (
    ApplicationService,
    ContainerService,
    DatabaseEngine,
    DatabaseMode,
    DatabaseService,
    EnvAction,
    EnvironmentJob,
    Job,
    JobService,
    RouterService,
    Service,
)
from qengine_kubernetes.placeholders import find_tokens
from qengine_kubernetes.render import RenderedEnvironment, render_environment
from qengine_kubernetes.render import names as naming
from qengine_kubernetes.render.context import routing_of
from qengine_kubernetes.render.pod import port_name
from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget, SandboxTarget
from qengine_kubernetes.stages import stage_conflicts, topological_order

TARGETS = (KubeconfigTarget, InClusterTarget, SandboxTarget)
BASE = "$.environment.services"
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_RESERVED_VOLUMES = frozenset({naming.FILES_VOLUME, naming.OUTPUT_VOLUME})
_NEEDS_PASSWORD = frozenset(
    {DatabaseEngine.POSTGRESQL, DatabaseEngine.MYSQL, DatabaseEngine.MONGODB}
)


def is_kubernetes_job(job: Job) -> bool:
    """Whether ``job`` is an environment job bound for one of this plugin's targets."""
    return isinstance(job, EnvironmentJob) and isinstance(job.target, TARGETS)


def check_job(job: Job) -> list[SpecIssue]:
    """Every issue of ``job`` (none for jobs bound elsewhere)."""
    if not isinstance(job, EnvironmentJob) or not is_kubernetes_job(job):
        return []
    services = job.environment.services
    issues = list(_check_environment_id(job.environment.id))
    for index, service in enumerate(services):
        issues += _check_service(service, f"{BASE}[{index}]")
    issues += _check_object_names(job)
    issues += _check_builds(job)
    issues += _check_hosts(services)
    if routing_of(job.target).gateway:
        issues += _check_gateway_routers(services)
    if not _has_cycle(services):  # a cycle is the spec's own issue; one report is enough
        issues += [
            SpecIssue(f"{BASE}[{i}].depends_on[{j}]", message)
            for i, j, message in stage_conflicts(services)
        ]
    return issues


def _has_cycle(services: Sequence[Service]) -> bool:
    known: set[str] = {s.name for s in services}
    explicit: dict[str, tuple[str, ...]] = {
        s.name: tuple(d for d in s.depends_on if d in known) for s in services
    }
    try:
        topological_order(explicit)
    except ValueError:
        return True
    return False


def _check_builds(job: EnvironmentJob) -> list[SpecIssue]:
    """A deploy of an application needs a build section: its image comes from the build step."""
    if job.action is not EnvAction.DEPLOY or job.build is not None:
        return []
    chosen = set(job.services)
    return [
        SpecIssue(
            f"{BASE}[{index}]",
            f"application {service.name!r} is built from git, but the job has no `build` "
            "section (and `registry`) to build and push its image",
        )
        for index, service in enumerate(job.environment.services)
        if isinstance(service, ApplicationService) and (not chosen or service.name in chosen)
    ]


def _check_environment_id(env_id: str) -> Iterator[SpecIssue]:
    if len(env_id) > naming.DNS_LABEL_MAX or not _LABEL_VALUE.fullmatch(env_id):
        yield SpecIssue(
            "$.environment.id",
            "must fit a Kubernetes label value (at most 63 characters, starting and ending "
            "with a letter or digit): it labels every object of the environment",
        )


def _check_service(service: Service, path: str) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    if isinstance(service, ApplicationService | ContainerService):
        issues += _check_workload(service, path)
    if isinstance(service, JobService):
        issues += _check_job_service(service, path)
    if isinstance(service, DatabaseService) and service.mode is DatabaseMode.CONTAINER:
        if service.engine in _NEEDS_PASSWORD and service.password is None:
            issues.append(
                SpecIssue(
                    f"{path}.password",
                    f"is required for a {service.engine.value} database in container mode",
                )
            )
        issues += _check_service_name(service.name, path)
    return issues


def _check_service_name(name: str, path: str) -> list[SpecIssue]:
    if name[0].isalpha():
        return []
    return [
        SpecIssue(
            f"{path}.name",
            "must start with a letter: it names a Kubernetes Service (a DNS-1035 label)",
        )
    ]


def _check_workload(service: ApplicationService | ContainerService, path: str) -> list[SpecIssue]:
    issues = _check_service_name(service.name, path) if service.ports else []
    for index, port in enumerate(service.ports):
        name = port_name(port)
        if len(name) > 15 or not _PORT_NAME.fullmatch(name) or not re.search("[a-z]", name):
            issues.append(
                SpecIssue(
                    f"{path}.ports[{index}].name",
                    "must be a port name Kubernetes accepts: at most 15 characters, "
                    "lower-case letters, digits and '-', with at least one letter",
                )
            )
    for index, volume in enumerate(service.volumes):
        if volume.name in _RESERVED_VOLUMES:
            issues.append(
                SpecIssue(f"{path}.volumes[{index}].name", f"{volume.name!r} is reserved")
            )
    return issues


def _check_job_service(service: JobService, path: str) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    try:
        re.compile(service.output_name_pattern)
    except re.error as exc:
        issues.append(
            SpecIssue(f"{path}.output_name_pattern", f"is not a regular expression: {exc}")
        )
    timezone = service.schedule.timezone
    if timezone is not None:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            issues.append(
                SpecIssue(
                    f"{path}.schedule.timezone",
                    f"is not a known IANA time zone: {timezone!r} (e.g. Europe/Paris)",
                )
            )
    return issues


def _check_object_names(job: EnvironmentJob) -> list[SpecIssue]:
    rendered = render_environment(
        job.environment, open_secret=lambda name: "", routing=routing_of(job.target)
    )
    return object_name_issues(rendered) + placeholder_issues(rendered)


def placeholder_issues(rendered: RenderedEnvironment) -> list[SpecIssue]:
    """Services whose plain values hold a placeholder of a secret or an image.

    ``rendered`` opens every secret as empty, so any placeholder came from the spec: a plan,
    an export or a rollback would turn that text into the secret's value, in a field anyone
    who reads the object sees."""
    issues: list[SpecIssue] = []
    for index, service in enumerate(rendered.services):
        found = find_tokens(json.dumps(list(service.objects)))
        if found:
            issues.append(
                SpecIssue(
                    f"{BASE}[{index}]",
                    f"holds {found[0][0]!r}, a placeholder qengine writes in place of a "
                    "secret or image: a plain value may not contain one",
                )
            )
    return issues


def object_name_issues(rendered: RenderedEnvironment) -> list[SpecIssue]:
    """Derived names too long for their kind, and the same (kind, name) from two services.

    Each service's objects are named ``<service>`` or ``<service>-<suffix>`` with one suffix
    per kind of object, so two services cannot collide today; the check keeps that true
    whatever naming the renderers use.
    """
    owners: dict[tuple[str, str], int] = {}
    issues: list[SpecIssue] = []
    for index, service in enumerate(rendered.services):
        path = f"{BASE}[{index}].name"
        for obj in service.objects:
            kind, name = obj["kind"], obj["metadata"]["name"]
            limit = naming.MAX_NAME_LENGTH.get(kind, 253)
            if len(name) > limit:
                issues.append(
                    SpecIssue(
                        path,
                        f"is too long: its {kind} would be named {name!r} ({len(name)} "
                        f"characters; at most {limit})",
                    )
                )
            first = owners.setdefault((kind, name), index)
            if first != index:
                issues.append(
                    SpecIssue(
                        path,
                        f"its {kind} {name!r} collides with an object of "
                        f"{BASE[2:]}[{first}]; rename one of the services",
                    )
                )
    return issues


MAX_LISTENERS = 64  # the Gateway API's limit on a Gateway's listeners (one is HTTP)
GATEWAY_HINT = (
    "has no Gateway API equivalent, so it cannot be served with routing 'gateway' "
    "($.target.routing); remove it, or keep routing 'ingress'"
)


def _check_gateway_routers(services: Sequence[Service]) -> list[SpecIssue]:
    """With Gateway API routing: options the Gateway API cannot carry, one ClusterIssuer for
    the environment's Gateway (its annotation is per Gateway), and at most 63 TLS hosts."""
    issues: list[SpecIssue] = []
    issuer: tuple[str, int] | None = None
    listeners = 1
    for index, service in enumerate(services):
        if not isinstance(service, RouterService):
            continue
        path = f"{BASE}[{index}]"
        if service.allowed_source_ranges:
            issues.append(SpecIssue(f"{path}.allowed_source_ranges", GATEWAY_HINT))
        if service.basic_auth is not None:
            issues.append(SpecIssue(f"{path}.basic_auth", GATEWAY_HINT))
        if not service.tls.enabled:
            continue
        listeners += len(service.domains)
        if issuer is None:
            issuer = (service.tls.issuer, index)
        elif service.tls.issuer != issuer[0]:
            issues.append(
                SpecIssue(
                    f"{path}.tls.issuer",
                    f"is {service.tls.issuer!r}, but {BASE[2:]}[{issuer[1]}] names "
                    f"{issuer[0]!r}: with routing 'gateway' the environment's one Gateway "
                    "names one ClusterIssuer",
                )
            )
    if listeners > MAX_LISTENERS:
        issues.append(
            SpecIssue(
                BASE,
                f"the routers have {listeners - 1} host names with TLS: a Gateway takes at most "
                f"{MAX_LISTENERS - 1} HTTPS listeners besides its HTTP one",
            )
        )
    return issues


def _check_hosts(services: Sequence[Service]) -> list[SpecIssue]:
    claimed: dict[str, int] = {}
    issues: list[SpecIssue] = []
    for index, service in enumerate(services):
        if not isinstance(service, RouterService):
            continue
        for domain_index, domain in enumerate(service.domains):
            host = domain.lower().rstrip(".")
            first = claimed.setdefault(host, index)
            if first != index:
                issues.append(
                    SpecIssue(
                        f"{BASE}[{index}].domains[{domain_index}]",
                        f"{domain!r} is already routed by {BASE[2:]}[{first}]",
                    )
                )
    return issues
