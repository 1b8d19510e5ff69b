"""The deploy order stays what it always was, and is found in linear time.

The order is compared with the first implementation (repeated rounds over every remaining
service, cubic in a chain's length) kept here as the reference, on random DAGs, cycles and
waits on unknown names; then a 3,000-service ``depends_on`` chain is ordered and validated
(which took about 90 s with the reference; the benchmark ``bench_validate.py`` measures it).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from qengine_kubernetes.stages import service_dag, topological_order

from qengine.spec import EnvAction, EnvironmentJob

Load = Callable[[dict[str, Any]], EnvironmentJob]
Example = Callable[[str], dict[str, Any]]


def _reference_order(dag: dict[str, tuple[str, ...]]) -> list[str]:
    done: list[str] = []
    remaining = dict(dag)
    while remaining:
        ready = sorted(n for n, deps in remaining.items() if all(d in done for d in deps))
        if not ready:
            raise ValueError(f"dependency cycle among {sorted(remaining)}")
        done += ready
        for name in ready:
            del remaining[name]
    return done


def _random_dag(rng: random.Random, size: int, cyclic: bool) -> dict[str, tuple[str, ...]]:
    names = [f"s{rng.randrange(10_000):04d}" for _ in range(size)]
    names = list(dict.fromkeys(names))
    rng.shuffle(names)
    dag: dict[str, tuple[str, ...]] = {}
    for index, name in enumerate(names):
        earlier = names[:index]
        deps = rng.sample(earlier, k=min(len(earlier), rng.randrange(4)))
        if cyclic and index and rng.random() < 0.05:
            deps.append(names[rng.randrange(index, len(names))])
        if rng.random() < 0.02:
            deps.append("not-a-service")
        dag[name] = tuple(deps + deps[:1])  # a repeated wait counts once
    return dag


def _outcome(order: Callable[[dict[str, tuple[str, ...]]], list[str]], dag: Any) -> object:
    try:
        return order(dag)
    except ValueError as exc:
        return str(exc)


@pytest.mark.parametrize("seed", range(60))
def test_k8s_order_matches_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    dag = _random_dag(rng, rng.randrange(1, 60), cyclic=seed % 3 == 0)
    assert _outcome(topological_order, dag) == _outcome(_reference_order, dag)


def test_k8s_order_of_a_self_wait_and_an_empty_dag() -> None:
    assert topological_order({}) == []
    with pytest.raises(ValueError, match=r"cycle among \['a', 'b'\]"):
        topological_order({"a": ("a",), "b": ("a",), "c": ()})


def _chain(load: Load, example: Example, size: int) -> EnvironmentJob:
    doc = example("quickstart")
    image = {"image": "registry.example.com/app", "tag": "1"}
    doc["environment"]["services"] = [
        {
            "kind": "container",
            "name": f"s{i}",
            **image,
            **({"depends_on": [f"s{i - 1}"]} if i else {}),
        }
        for i in range(size)
    ]
    return load(doc)


def test_k8s_long_chain_is_ordered_and_validated(load_env_job: Load, example: Example) -> None:
    job = _chain(load_env_job, example, 3000)  # loading runs the plugin's checks
    for action in (EnvAction.DEPLOY, EnvAction.PAUSE):
        order = topological_order(service_dag(job.environment.services, action))
        expected = [f"s{i}" for i in range(3000)]
        assert order == (expected if action is EnvAction.DEPLOY else expected[::-1])
