"""Review resources that are answered, never stored (who am I, and may I), and requests made
as another user (impersonation).

The simulator authenticates one user, its administrator (the bearer token), a member of
``system:masters``. Like the API server's privileged-group authorizer, it allows that group
everything, so access reviews about it (``kubectl auth can-i``) are answered ``allowed``. It
does not model RBAC: Roles and bindings are stored, never evaluated. So it cannot tell what
any other user may do, and it says so rather than guessing:

* a ``SubjectAccessReview`` or ``LocalSubjectAccessReview`` about a subject outside
  ``system:masters``, and a ``SelfSubjectAccessReview`` made as such a user (impersonation:
  ``kubectl auth can-i --as=bob``), is answered ``allowed: false`` with a ``reason`` and an
  ``evaluationError`` saying that RBAC is not evaluated (kubectl prints ``no - <reason> -
  <error>``); ``denied`` stays false, since nothing was decided;
* a ``SelfSubjectRulesReview`` as such a user is ``incomplete``, with an
  ``evaluationError``;
* any other resource request made as such a user (``kubectl get pods --as=bob``, a
  ``SubjectAccessReview``: only reviews about oneself are every user's right) is refused
  with ``403 Forbidden`` saying why, instead of being done with the administrator's rights.
  Discovery, which every authenticated user may read on a cluster, is served as usual;
* a ``SelfSubjectReview`` (``kubectl auth whoami``) names the impersonated user as the API
  server does: ``system:authenticated`` added unless a group says otherwise, a service
  account's groups when it is impersonated without groups, extra keys lower-cased.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from qengine.testing.kube.http import Request
from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.status import ApiError, bad_request

JSON = dict[str, Any]
MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
USER = {"username": "qengine-sim-admin", "groups": [MASTERS, AUTHENTICATED]}
# What every authenticated user may ask about itself (the bootstrap system:basic-user role).
SELF_REVIEW_KINDS = ("SelfSubjectAccessReview", "SelfSubjectReview", "SelfSubjectRulesReview")
REVIEW_KINDS = (*SELF_REVIEW_KINDS, "SubjectAccessReview", "LocalSubjectAccessReview")
NOT_EVALUATED = "the Kubernetes API simulator does not evaluate RBAC"
EVALUATION_ERROR = (
    "only the simulator's administrator (group system:masters) is known to be allowed; check "
    "this permission on a real cluster"
)
RULES_ERROR = f"{NOT_EVALUATED}; check this user's permissions on a real cluster"
_EXTRA_PREFIX = "impersonate-extra-"
# What the bootstrap policy grants every authenticated user (system:basic-user,
# system:discovery, system:public-info-viewer), listed by a rules review as on a cluster.
_BASIC_RULES = [
    {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    },
    {
        "verbs": ["create"],
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["selfsubjectreviews"],
    },
]
_DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                   "/openapi/*", "/readyz", "/version", "/version/"]  # fmt: skip


def impersonated(headers: dict[str, str]) -> JSON | None:
    """The user a request acts as through ``Impersonate-*`` headers (as the API server builds
    it), or None without them. Only the last of several ``Impersonate-Group`` headers is
    seen (the simulator's request headers keep one value per name)."""
    name = headers.get("impersonate-user", "")
    group = headers.get("impersonate-group", "")
    extra: dict[str, list[str]] = {}
    for header, value in headers.items():
        if header.startswith(_EXTRA_PREFIX):
            extra.setdefault(unquote(header[len(_EXTRA_PREFIX) :]).lower(), []).append(value)
    uid = headers.get("impersonate-uid", "")
    if not (name or group or extra or uid):
        return None
    if not name:
        raise ApiError(
            500,
            "InternalError",
            "Internal error occurred: requested impersonation of groups, extra or uid without "
            "impersonating a user",
        )
    groups = [group] if group else []
    parts = name.split(":")
    if not group and len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{parts[2]}"]
    if name != ANONYMOUS and not {AUTHENTICATED, UNAUTHENTICATED} & set(groups):
        groups.append(AUTHENTICATED)
    elif name == ANONYMOUS and UNAUTHENTICATED not in groups:
        groups.append(UNAUTHENTICATED)
    user: JSON = {"username": name, "groups": groups}
    if uid:
        user["uid"] = uid
    if extra:
        user["extra"] = extra
    return user


def privileged(user: JSON) -> bool:
    """Whether ``user`` is in ``system:masters`` (allowed everything, RBAC or not)."""
    return MASTERS in (user.get("groups") or ())


def _verb(req: Request, name: str) -> str:
    if req.method == "GET":
        return "watch" if req.flag("watch") else "get" if name else "list"
    if req.method == "DELETE":
        return "delete" if name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(req.method, req.method.lower())


def check_request(
    req: Request, rtype: ResourceType, namespace: str | None, name: str, sub: str
) -> None:
    """403 for a resource request made as a user outside ``system:masters`` (see module);
    reviews about oneself are answered instead."""
    user = impersonated(req.headers)
    if user is None or privileged(user) or rtype.kind in SELF_REVIEW_KINDS:
        return
    resource = f"{rtype.plural}/{sub}" if sub else rtype.plural
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    qualified = f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural
    target = f'{qualified} "{name}"' if name else qualified
    details: JSON = {"kind": rtype.plural}
    if name:
        details["name"] = name
    if rtype.group:
        details["group"] = rtype.group
    raise ApiError(
        403,
        "Forbidden",
        f'{target} is forbidden: User "{user["username"]}" cannot {_verb(req, name)} resource '
        f'"{resource}" in API group "{rtype.group}" {scope}: {NOT_EVALUATED}, so it does not act '
        "as another user (only its administrator, group system:masters, is known to be "
        "allowed)",
        details=details,
    )


def _invalid(kind: str, causes: list[tuple[str, str]]) -> ApiError:
    text = [f"{field}: Invalid value: {message}" for field, message in causes]
    joined = text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{kind}.authorization.k8s.io "" is invalid: {joined}',
        details={
            "group": "authorization.k8s.io",
            "kind": kind,
            "causes": [
                {"reason": "FieldValueInvalid", "message": f"Invalid value: {m}", "field": f}
                for f, m in causes
            ],
        },
    )


def _check_spec(kind: str, spec: JSON, namespace: str | None) -> None:
    """The API server's validation of an access review's spec (authorization validation)."""
    causes: list[tuple[str, str]] = []
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        causes.append(
            (
                "spec.nonResourceAttributes",
                "cannot be specified in combination with resourceAttributes",
            )
        )
    if resource is None and non_resource is None:
        causes.append(
            (
                "spec.resourceAttributes",
                '"null": exactly one of nonResourceAttributes or resourceAttributes must be '
                "specified",
            )
        )
    if kind in ("SubjectAccessReview", "LocalSubjectAccessReview") and not (
        spec.get("user") or spec.get("groups")
    ):
        causes.append(("spec.user", '"": at least one of user or group must be specified'))
    if kind == "LocalSubjectAccessReview":
        given = (resource or {}).get("namespace", "")
        if resource is not None and given != namespace:
            causes.append(
                ("spec.resourceAttributes.namespace", f'"{given}": must match metadata.namespace')
            )
        if non_resource is not None:
            causes.append(("spec.nonResourceAttributes", "disallowed on this kind of request"))
    if causes:
        raise _invalid(kind, causes)


def _access(user: JSON) -> JSON:
    if privileged(user):
        return {"allowed": True}
    return {"allowed": False, "reason": NOT_EVALUATED, "evaluationError": EVALUATION_ERROR}


def _rules(user: JSON) -> JSON:
    if not privileged(user):
        return {
            "resourceRules": [],
            "nonResourceRules": [],
            "incomplete": True,
            "evaluationError": RULES_ERROR,
        }
    return {
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, *_BASIC_RULES],
        "nonResourceRules": [
            {"verbs": ["*"], "nonResourceURLs": ["*"]},
            {"verbs": ["get"], "nonResourceURLs": _DISCOVERY_URLS},
        ],
        "incomplete": False,
    }


def answer(rtype: ResourceType, body: JSON, headers: dict[str, str], namespace: str | None) -> JSON:
    """The review with its status filled in (see the module docstring)."""
    acting = impersonated(headers) or USER
    reply = dict(body, apiVersion=rtype.api_version, kind=rtype.kind)
    meta: JSON = {"creationTimestamp": None}
    if rtype.kind == "LocalSubjectAccessReview":
        if not namespace:
            raise bad_request("namespace is required on this type: ")
        given = (body.get("metadata") or {}).get("namespace")
        if given not in (None, "", namespace):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        meta["namespace"] = namespace
    reply["metadata"] = meta
    spec = body.get("spec") or {}
    if rtype.kind == "SelfSubjectReview":
        reply["status"] = {"userInfo": acting}
    elif rtype.kind == "SelfSubjectRulesReview":
        reply["status"] = _rules(acting)
    elif rtype.kind == "SelfSubjectAccessReview":
        _check_spec(rtype.kind, spec, namespace)
        reply["status"] = _access(acting)
    else:
        _check_spec(rtype.kind, spec, namespace)
        subject = {"username": spec.get("user", ""), "groups": spec.get("groups") or []}
        reply["status"] = _access(subject)
    return reply
