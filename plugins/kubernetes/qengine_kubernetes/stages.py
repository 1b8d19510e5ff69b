"""The order services are deployed in: stages, plus each service's explicit ``depends_on``.

Stages, in deploy order: databases (and Terraform services, which provide infrastructure),
before-start jobs, workloads (applications, containers, Helm releases, run-once and cron
jobs), after-start jobs, routers. Each service waits for every service of the nearest earlier
stage that has any, and for what it names in ``depends_on``. Pausing and deleting go the other
way round: every edge is reversed, and on deletion the ``on_delete`` jobs come first. Deploying
leaves ``on_delete`` jobs out.

The result is a DAG, as a mapping of each service name to the names it waits for; the engine
turns it into runner steps. An explicit dependency that runs against the stages would make a
cycle: :func:`stage_conflicts` finds them so validation refuses them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence

from qengine.spec import (
    DatabaseService,
    EnvAction,
    JobService,
    JobTrigger,
    RouterService,
    Service,
    TerraformService,
)


class Stage(enum.IntEnum):
    """A deploy stage; lower runs first."""

    DATABASES = 0
    BEFORE_START = 1
    WORKLOADS = 2
    AFTER_START = 3
    ROUTERS = 4


STAGE_NAMES = {
    Stage.DATABASES: "databases",
    Stage.BEFORE_START: "before-start jobs",
    Stage.WORKLOADS: "applications and containers",
    Stage.AFTER_START: "after-start jobs",
    Stage.ROUTERS: "routers",
}
REVERSED_ACTIONS = frozenset({EnvAction.PAUSE, EnvAction.DELETE})


def stage_of(service: Service) -> Stage | None:
    """The deploy stage of ``service``; None for an ``on_delete`` job (not deployed)."""
    if isinstance(service, DatabaseService | TerraformService):
        return Stage.DATABASES
    if isinstance(service, RouterService):
        return Stage.ROUTERS
    if isinstance(service, JobService):
        trigger = service.schedule.on
        if trigger is JobTrigger.ON_DELETE:
            return None
        if trigger is JobTrigger.BEFORE_START:
            return Stage.BEFORE_START
        if trigger is JobTrigger.AFTER_START:
            return Stage.AFTER_START
    return Stage.WORKLOADS


def _rank(service: Service, action: EnvAction) -> int | None:
    stage = stage_of(service)
    if action not in REVERSED_ACTIONS:
        return None if stage is None else int(stage)
    if stage is None:
        return -1 if action is EnvAction.DELETE else None
    return int(Stage.ROUTERS) - int(stage)


def service_dag(
    services: Sequence[Service], action: EnvAction = EnvAction.DEPLOY
) -> dict[str, tuple[str, ...]]:
    """Each service that takes part in ``action`` and the services it waits for (sorted)."""
    ranks = {s.name: r for s in services if (r := _rank(s, action)) is not None}
    reverse = action in REVERSED_ACTIONS
    by_rank: dict[int, set[str]] = {}
    for name, rank in ranks.items():
        by_rank.setdefault(rank, set()).add(name)
    # Each rank waits for the nearest earlier rank that has services (its barrier).
    present = sorted(by_rank)
    barrier = dict(zip(present[1:], present, strict=False))
    waits: dict[str, set[str]] = {
        name: set(by_rank[barrier[rank]]) if rank in barrier else set()
        for name, rank in ranks.items()
    }
    for service in services:
        for dep in service.depends_on:
            if service.name in ranks and dep in ranks:
                before, after = (service.name, dep) if reverse else (dep, service.name)
                waits[after].add(before)
    return {name: tuple(sorted(waits[name])) for name in ranks}


def topological_order(dag: dict[str, tuple[str, ...]]) -> list[str]:
    """The services of ``dag`` in an order that respects it (ties by name); ValueError on a
    cycle.

    Kahn's algorithm, level by level: a level is every service whose last wait was met by the
    level before, sorted by name; so the order is the waves of services that become ready
    together, each wave sorted. Linear in the services and edges (plus the sorts): a chain of
    thousands of services is ordered in milliseconds. A wait on a name that is not in ``dag``
    is never met, like a cycle.
    """
    pending: dict[str, int] = {}
    waiters: dict[str, list[str]] = {}
    for name, deps in dag.items():
        unique = set(deps)
        pending[name] = len(unique)
        for dep in unique:
            waiters.setdefault(dep, []).append(name)
    done: list[str] = []
    level = sorted(name for name, count in pending.items() if count == 0)
    while level:
        done += level
        following: list[str] = []
        for name in level:
            for waiter in waiters.get(name, ()):
                pending[waiter] -= 1
                if pending[waiter] == 0:
                    following.append(waiter)
        level = sorted(following)
    if len(done) < len(dag):
        finished = set(done)
        raise ValueError(f"dependency cycle among {sorted(n for n in dag if n not in finished)}")
    return done


def stage_conflicts(services: Sequence[Service]) -> Iterator[tuple[int, int, str]]:
    """(service index, depends_on index, message) of each dependency against the stages."""
    by_name = {s.name: s for s in services}
    for index, service in enumerate(services):
        stage = stage_of(service)
        for dep_index, dep in enumerate(service.depends_on):
            target = by_name.get(dep)
            if target is None:
                continue
            dep_stage = stage_of(target)
            if dep_stage is None and stage is not None:
                yield index, dep_index, f"{dep!r} is an on_delete job: it runs only on deletion"
            elif stage is not None and dep_stage is not None and dep_stage > stage:
                yield (
                    index,
                    dep_index,
                    f"{dep!r} is among the {STAGE_NAMES[dep_stage]}, which are deployed after "
                    f"the {STAGE_NAMES[stage]}: order is databases, before-start jobs, "
                    "applications and containers, after-start jobs, routers",
                )
