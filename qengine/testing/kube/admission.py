"""Admission webhooks, as far as a simulator without containers can honour them.

The simulator serves ``ValidatingWebhookConfiguration`` and ``MutatingWebhookConfiguration``
(``admissionregistration.k8s.io/v1``) and never calls a webhook: no container runs. What it
reproduces is the failure that matters to whoever installs a webhook and then creates the
objects it validates: a write matched by a webhook whose Service has no ready endpoint is
refused, as a 1.31 API server refuses it when the call cannot be made and the
``failurePolicy`` is ``Fail`` (the default)::

    Internal error occurred: failed calling webhook "webhook.example.io": failed to call
    webhook: Post "https://svc.ns.svc:443/validate?timeout=10s": no endpoints available for
    service "svc"

Once the Service has a ready endpoint (a Ready pod it selects), the write is admitted
unchanged. Rules are matched by API group, version, operation and resource (``*``: every
resource; ``*/*``: every resource and subresource; ``x/status``: that subresource only;
``x/*``: every subresource of ``x``); the ``namespaceSelector``, ``objectSelector`` and
``matchConditions`` are not evaluated (every object matches them), and a webhook reached by
``url`` rather than a Service is always admitted.
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.status import ApiError

JSON = dict[str, Any]
GROUP = "admissionregistration.k8s.io"
CONFIGURATIONS = ("validatingwebhookconfigurations", "mutatingwebhookconfigurations")


def _matches(values: list[str] | None, value: str) -> bool:
    listed = values or []
    return "*" in listed or value in listed


def _rule_matches(rule: JSON, rtype: ResourceType, operation: str, subresource: str) -> bool:
    operations = rule.get("operations") or []
    if "*" not in operations and operation not in operations:
        return False
    if not _matches(rule.get("apiGroups"), rtype.group):
        return False
    if not _matches(rule.get("apiVersions"), rtype.version):
        return False
    resources = rule.get("resources") or []
    if "*/*" in resources:
        return True
    if not subresource:
        return "*" in resources or rtype.plural in resources
    return f"{rtype.plural}/{subresource}" in resources or f"{rtype.plural}/*" in resources


def _ready(store: Any, namespace: str, name: str) -> bool:
    endpoints = store.find(("", "endpoints"), namespace, name)
    if endpoints is None:
        return False
    return any(subset.get("addresses") for subset in endpoints.get("subsets") or [])


def admit(store: Any, rtype: ResourceType, operation: str, subresource: str = "") -> None:
    """Refuse a write that a webhook with no ready endpoint would have to admit."""
    if rtype.group == GROUP:
        return
    for plural in CONFIGURATIONS:
        for config in store.iter((GROUP, plural)):
            for hook in config.get("webhooks") or []:
                if not any(
                    _rule_matches(rule, rtype, operation, subresource)
                    for rule in hook.get("rules") or []
                ):
                    continue
                service = (hook.get("clientConfig") or {}).get("service")
                if not service or hook.get("failurePolicy", "Fail") == "Ignore":
                    continue
                namespace, name = service.get("namespace", ""), service.get("name", "")
                if _ready(store, namespace, name):
                    continue
                path = service.get("path", "")
                port = service.get("port", 443)
                timeout = hook.get("timeoutSeconds", 10)
                raise ApiError(
                    500,
                    "InternalError",
                    f'Internal error occurred: failed calling webhook "{hook.get("name", "")}": '
                    f'failed to call webhook: Post "https://{name}.{namespace}.svc:{port}{path}'
                    f'?timeout={timeout}s": no endpoints available for service "{name}"',
                )
