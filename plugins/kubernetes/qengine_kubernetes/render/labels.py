"""The labels every rendered object carries, and the selectors derived from them.

Labels say who manages an object and which environment and service it belongs to; they are
plain strings, so nothing in the cluster depends on qengine being installed.
"""

from __future__ import annotations

from qengine.spec import Environment

MANAGED_BY = "app.kubernetes.io/managed-by"
NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
ENVIRONMENT_ID = "qengine.dev/environment-id"
SERVICE_ID = "qengine.dev/service-id"
MANAGER = "qengine"


def environment_labels(environment: Environment) -> dict[str, str]:
    """Labels of the environment's own objects (namespace, policies, quota)."""
    return {
        MANAGED_BY: MANAGER,
        NAME: environment.name,
        INSTANCE: environment.name,
        ENVIRONMENT_ID: environment.id,
    }


def service_labels(environment: Environment, service: str) -> dict[str, str]:
    """Labels of every object rendered for ``service``."""
    return {
        MANAGED_BY: MANAGER,
        NAME: service,
        INSTANCE: environment.name,
        ENVIRONMENT_ID: environment.id,
        SERVICE_ID: service,
    }


def selector(environment: Environment, service: str) -> dict[str, str]:
    """The pod selector of ``service``: immutable on workloads, so only stable labels."""
    return {NAME: service, INSTANCE: environment.name}
