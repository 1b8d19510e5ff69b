"""Checks across fields, run once every field is well-formed: names, references, cycles."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime

from qengine._errors import SpecIssue
from qengine.spec._common import Probe, ProbeType
from qengine.spec._job import Addons, EnvironmentJob, InfrastructureJob, Job, JobBase
from qengine.spec._refs import secret_references
from qengine.spec._services import (
    ApplicationService,
    ContainerService,
    DatabaseService,
    HelmService,
    JobService,
    JobTrigger,
    LongRunning,
    RouterService,
    Service,
    TerraformService,
)
from qengine.spec._suggest import did_you_mean

MAX_PARALLEL = 64
MAX_REPLICAS = 1000


def check_job(job: Job) -> list[SpecIssue]:
    """Every cross-field problem of ``job``; empty when the job is consistent."""
    issues = list(_check_common(job))
    if isinstance(job, EnvironmentJob):
        issues.extend(_check_environment(job))
    if isinstance(job, InfrastructureJob):
        issues.extend(_check_addons(job))
    issues.extend(_check_secrets(job))
    return issues


def _check_common(job: JobBase) -> Iterator[SpecIssue]:
    return common_issues(job.max_parallel, job.created_at, job.not_after)


def common_issues(
    max_parallel: int | None, created_at: str | None, not_after: str | None
) -> Iterator[SpecIssue]:
    """The problems of the job-wide settings (``None``: not given or malformed)."""
    if max_parallel is not None and not 1 <= max_parallel <= MAX_PARALLEL:
        yield SpecIssue("$.max_parallel", f"must be from 1 to {MAX_PARALLEL}")
    if created_at and not_after:
        created, expires = (datetime.fromisoformat(t) for t in (created_at, not_after))
        if expires <= created:
            yield SpecIssue("$.not_after", "must be later than created_at")


def _check_addons(job: InfrastructureJob) -> Iterator[SpecIssue]:
    return addons_issues(job.cluster.addons, has_dns=job.dns is not None)


def addons_issues(addons: Addons, *, has_dns: bool) -> Iterator[SpecIssue]:
    """The problems of a cluster's add-on stack; ``has_dns``: the job has a ``dns`` section."""
    path = "$.cluster.addons"
    if not addons.manage:
        if addons != Addons(manage=False):
            yield SpecIssue(
                f"{path}.manage", "is false (the add-ons are left alone): give no other field"
            )
        return
    if addons.external_dns and not has_dns:
        yield SpecIssue(
            f"{path}.external_dns", "needs the job's dns section: the zone it writes records in"
        )
    if addons.cert_manager and not addons.ingress and addons.acme_challenge == "http01":
        yield SpecIssue(
            f"{path}.cert_manager",
            "needs ingress: its ClusterIssuers solve ACME HTTP-01 through the ingress controller "
            '(or set acme_challenge to "dns01")',
        )
    if addons.acme_challenge == "dns01":
        if not has_dns:
            yield SpecIssue(
                f"{path}.acme_challenge",
                "is dns01, which needs the job's dns section: the zone the ACME challenge "
                "records are written in",
            )
        if not addons.cert_manager:
            yield SpecIssue(
                f"{path}.acme_challenge",
                "is dns01 with cert_manager false: no ClusterIssuer would use it",
            )
    mirror = addons.chart_mirror
    if mirror is not None and (
        not mirror.startswith(("oci://", "https://"))
        or len(mirror.split("://", 1)[1].strip("/")) == 0
        or any(c.isspace() for c in mirror)
    ):
        yield SpecIssue(
            f"{path}.chart_mirror", "must be an oci:// registry or an https:// chart repository"
        )


def missing_registry(job: EnvironmentJob) -> SpecIssue | None:
    """The issue of a job with a ``build`` section and no ``registry`` to push to, if so.

    Every build backend pushes to the job's registry, so this is the core's check, not each
    build plugin's."""
    if job.build is None or job.registry is not None:
        return None
    return registry_issue(job.build.kind)


def registry_issue(build_kind: object) -> SpecIssue:
    """The issue of a build section (of ``build_kind``) without a registry."""
    return SpecIssue(
        "$.registry",
        f"is required with a build section: the {build_kind} build pushes the images there",
    )


def _check_environment(job: EnvironmentJob) -> Iterator[SpecIssue]:
    registry = missing_registry(job)
    if registry is not None:
        yield registry
    services = job.environment.services
    yield from environment_issues(
        list(enumerate(services)),
        [(index, service.name) for index, service in enumerate(services)],
        list(enumerate(job.services)),
    )


def environment_issues(
    entries: Sequence[tuple[int, Service]],
    written: Sequence[tuple[int, str]],
    selected: Sequence[tuple[int, str]],
) -> Iterator[SpecIssue]:
    """The cross-field problems of an environment's services.

    ``entries`` are the well-formed services with their positions, ``written`` the name of
    every service as written (well-formed or not, so a reference to a malformed service is no
    dangling one), ``selected`` the job's ``services`` list. A job with field errors passes the
    services that structured on their own, so these problems show along with the others.
    """
    base = "$.environment.services"
    names: dict[str, int] = {}
    for index, name in written:
        if name in names:
            yield SpecIssue(
                f"{base}[{index}].name",
                f"{name!r} is already the name of environment.services[{names[name]}]",
            )
        names.setdefault(name, index)
    near = _near(names)
    for index, service in entries:
        yield from _check_service(service, f"{base}[{index}]")
        for dep_index, dep in enumerate(service.depends_on):
            if dep not in names:
                yield SpecIssue(
                    f"{base}[{index}].depends_on[{dep_index}]",
                    f"names no service of the environment: {dep!r}" + did_you_mean(dep, near),
                )
            elif dep == service.name:
                yield SpecIssue(
                    f"{base}[{index}].depends_on[{dep_index}]", "a service cannot depend on itself"
                )
    yield from _check_cycles(entries, base)
    for index, name in selected:
        if name not in names:
            yield SpecIssue(
                f"$.services[{index}]",
                f"names no service of the environment: {name!r}" + did_you_mean(name, near),
            )
    yield from _check_routes(entries, names, base)


def _near(names: dict[str, int]) -> tuple[str, ...]:
    # Suggestions come from a bounded list: a spec may hold thousands of services.
    return tuple(itertools.islice(names, 200))


def _check_service(service: Service, path: str) -> Iterator[SpecIssue]:
    yield from _check_arguments(service, path)
    if isinstance(service, LongRunning):
        yield from _check_long_running(service, path)
    if (
        isinstance(service, ContainerService)
        and service.tag
        and ":" in service.image.rsplit("/")[-1]
    ):
        yield SpecIssue(f"{path}.tag", "is given twice: the image already carries a tag")
    if isinstance(service, JobService):
        yield from _check_job_service(service, path)
    if isinstance(service, HelmService) and (service.chart.repository is None) == (
        service.chart.path is None
    ):
        yield SpecIssue(f"{path}.chart", "needs exactly one of 'repository' or 'path'")


def _check_arguments(service: Service, path: str) -> Iterator[SpecIssue]:
    """Values that reach a tool's command line never read as its flags, and sources stay
    remote: a ``-`` prefix is refused where a tool takes the value as an argument, and a git
    or chart repository on this machine (``file://``) is refused."""
    values: list[tuple[str, str | None]] = []
    git = getattr(service, "git", None)
    if git is not None:
        values.append((f"{path}.git.branch", git.branch))
        if _is_local(git.url):
            yield SpecIssue(f"{path}.git.url", "must be a remote repository, not file://")
    if isinstance(service, ApplicationService):
        values.append((f"{path}.build_target", service.build_target))
    if isinstance(service, DatabaseService):
        values += [(f"{path}.version", service.version)]
        values += [(f"{path}.instance_type", service.instance_type)]
    if isinstance(service, TerraformService):
        values.append((f"{path}.terraform_version", service.terraform_version))
    if isinstance(service, HelmService):
        chart = service.chart
        values += [
            (f"{path}.chart.{n}", getattr(chart, n)) for n in ("name", "version", "username")
        ]
        if chart.repository is not None and _is_local(chart.repository):
            yield SpecIssue(f"{path}.chart.repository", "must be a remote repository, not file://")
        if chart.path is not None and chart.path.strip("/").strip(".") == "":
            yield SpecIssue(f"{path}.chart.path", "must name the chart's directory in the source")
    for where, value in values:
        if value is not None and (value.startswith("-") or not value.strip()):
            yield SpecIssue(where, "must not be empty or start with '-' (it would read as a flag)")


def _is_local(url: str) -> bool:
    return url.split(":", 1)[0].lower() == "file"


def _check_long_running(service: LongRunning, path: str) -> Iterator[SpecIssue]:
    if service.replicas < 0:
        yield SpecIssue(f"{path}.replicas", "must not be negative")
    if service.replicas > MAX_REPLICAS:
        yield SpecIssue(f"{path}.replicas", f"must be at most {MAX_REPLICAS}")
    scaling = service.autoscaling
    if scaling is not None and scaling.max_replicas > MAX_REPLICAS:
        yield SpecIssue(f"{path}.autoscaling.max_replicas", f"must be at most {MAX_REPLICAS}")
    if scaling is not None:
        if scaling.min_replicas < 1:
            yield SpecIssue(f"{path}.autoscaling.min_replicas", "must be at least 1")
        if scaling.min_replicas > scaling.max_replicas:
            yield SpecIssue(f"{path}.autoscaling.max_replicas", "must not be below min_replicas")
    yield from _duplicates([p.port for p in service.ports], f"{path}.ports", "port")
    yield from _duplicates([v.name for v in service.volumes], f"{path}.volumes", "name")
    yield from _duplicates([v.mount_path for v in service.volumes], f"{path}.volumes", "mount_path")
    for name, probe in (
        ("readiness_probe", service.readiness_probe),
        ("liveness_probe", service.liveness_probe),
    ):
        if probe is not None:
            yield from _check_probe(probe, f"{path}.{name}", bool(service.ports))


def _check_probe(probe: Probe, path: str, has_ports: bool) -> Iterator[SpecIssue]:
    if probe.type is ProbeType.EXEC and not probe.command:
        yield SpecIssue(f"{path}.command", "is required for an exec probe")
    if probe.type is not ProbeType.EXEC and probe.port is None and not has_ports:
        yield SpecIssue(f"{path}.port", "is required when the service declares no port")
    if probe.type is ProbeType.HTTP and probe.path is None:
        yield SpecIssue(f"{path}.path", "is required for an http probe")


def _check_job_service(service: JobService, path: str) -> Iterator[SpecIssue]:
    is_cron = service.schedule.on is JobTrigger.CRON
    if is_cron and service.schedule.cron is None:
        yield SpecIssue(f"{path}.schedule.cron", "is required when the job runs on: cron")
    if not is_cron and service.schedule.cron is not None:
        yield SpecIssue(f"{path}.schedule.cron", "is only allowed when the job runs on: cron")
    if (service.image is None) == (service.git is None):
        yield SpecIssue(path, "needs exactly one of 'image' or 'git'")


def _duplicates(values: Sequence[object], path: str, field: str) -> Iterator[SpecIssue]:
    seen: set[object] = set()
    for index, value in enumerate(values):
        if value in seen:
            yield SpecIssue(f"{path}[{index}].{field}", f"duplicates {value!r}")
        seen.add(value)


def _check_cycles(entries: Sequence[tuple[int, Service]], base: str) -> Iterator[SpecIssue]:
    """The first dependency cycle, found by an iterative depth-first search: linear in the
    number of services and edges, and no recursion (a chain of thousands is fine)."""
    graph: dict[str, list[str]] = {
        s.name: [d for d in s.depends_on if d != s.name] for _, s in entries
    }
    index: dict[str, int] = {s.name: i for i, s in entries}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in graph:
        if root in state:
            continue
        path: list[str] = [root]
        position: dict[str, int] = {root: 0}  # where each name on the path sits
        pending: list[Iterator[str]] = [iter(graph[root])]
        state[root] = 1
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                state[path[-1]] = 2
                del position[path.pop()]
                pending.pop()
            elif state.get(dep) == 1:
                cycle = [*path[position[dep] :], dep]
                yield SpecIssue(
                    f"{base}[{index[cycle[0]]}].depends_on",
                    "forms a dependency cycle: " + _shown(cycle),
                )
                return
            elif dep in graph and dep not in state:
                state[dep] = 1
                position[dep] = len(path)
                path.append(dep)
                pending.append(iter(graph[dep]))


def _shown(cycle: list[str], limit: int = 10) -> str:
    """A cycle in words; a long one shows its first and last names."""
    if len(cycle) <= limit:
        return " -> ".join(cycle)
    return " -> ".join([*cycle[:5], f"... ({len(cycle) - 8} more)", *cycle[-3:]])


def _check_routes(
    entries: Sequence[tuple[int, Service]], names: dict[str, int], base: str
) -> Iterator[SpecIssue]:
    well_formed, near = dict(entries), _near(names)
    for index, router in entries:
        if not isinstance(router, RouterService):
            continue
        for route_index, route in enumerate(router.routes):
            path = f"{base}[{index}].routes[{route_index}]"
            if route.service not in names:
                hint = did_you_mean(route.service, near)
                yield SpecIssue(f"{path}.service", f"names no service: {route.service!r}{hint}")
                continue
            target = well_formed.get(names[route.service])
            if target is None:
                continue  # a malformed service: its own problems are reported
            elif not isinstance(target, LongRunning) or not target.ports:
                yield SpecIssue(f"{path}.service", f"{route.service!r} has no port to route to")
            elif route.port is not None and route.port not in {p.port for p in target.ports}:
                yield SpecIssue(f"{path}.port", f"is not a port of {route.service!r}")


def _check_secrets(job: Job) -> Iterator[SpecIssue]:
    if job.secrets is None:
        return
    references = list(secret_references(job))
    sealed = job.secrets.sealed
    yield from unsealed_references(references, sealed)
    used = {name for _, name in references}
    for name in sealed:
        if name not in used:
            yield SpecIssue(f"$.secrets.sealed.{name}", "is sealed but nothing references it")


def unsealed_references(
    references: Sequence[tuple[str, str]], sealed: Collection[str]
) -> Iterator[SpecIssue]:
    """The references, ``(path, name)``, to secrets not among ``sealed``."""
    near = tuple(itertools.islice(sealed, 200))
    for path, name in references:
        if name not in sealed:
            hint = did_you_mean(name, near)
            yield SpecIssue(
                path, f"references the secret {name!r}, which the job does not carry{hint}"
            )
