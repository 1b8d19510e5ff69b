"""Authorization: the simulator does not model RBAC, so it answers only what it knows.

Its one user, the administrator, is in ``system:masters``, which a real API server allows
everything (the privileged-group authorizer placed before RBAC). About anyone else it cannot
know the answer, so it says so instead of "yes". References: "Authorization",
"User Impersonation" (the ``Impersonate-*`` headers; ``system:authenticated`` is added to an
impersonated user; a service account gets its groups) and the SubjectAccessReview API
(``allowed``, ``denied``, ``reason``, ``evaluationError``) in the Kubernetes documentation
(kubernetes.io/docs/reference/access-authn-authz/), k8s.io/apiserver's impersonation filter
(endpoints/filters/impersonation.go) and the review validation
(pkg/apis/authorization/validation).
"""

from __future__ import annotations

import json
from typing import Any

from qengine.testing.kube import KubeSimulator

from .conftest import Kubectl, Raw

AUTHZ = "/apis/authorization.k8s.io/v1"


def _sar(user: str = "", groups: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "resourceAttributes": {"namespace": "default", "verb": "delete", "resource": "pods"}
    }
    if user:
        spec["user"] = user
    if groups:
        spec["groups"] = groups
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def test_kubectl_auth_can_i_as_another_user_is_not_a_yes(kubectl: Kubectl) -> None:
    assert kubectl.run("auth", "can-i", "delete", "pods").stdout.strip() == "yes"

    asked = kubectl.run("auth", "can-i", "delete", "pods", "--as=bob", check=False)

    assert asked.returncode == 1
    assert asked.stdout.startswith("no - the Kubernetes API simulator does not evaluate RBAC - ")
    # A member of system:masters is allowed everything, on a cluster as here.
    masters = ["auth", "can-i", "delete", "pods", "--as=bob", "--as-group=system:masters"]
    assert kubectl.run(*masters).stdout.strip() == "yes"


def test_kubectl_auth_whoami_names_the_impersonated_user(kubectl: Kubectl) -> None:
    me = kubectl.json("auth", "whoami")["status"]["userInfo"]
    assert me == {
        "username": "qengine-sim-admin",
        "groups": ["system:masters", "system:authenticated"],
    }
    bob = kubectl.json("auth", "whoami", "--as=bob")["status"]["userInfo"]
    assert bob == {"username": "bob", "groups": ["system:authenticated"]}
    account = "system:serviceaccount:team:deployer"
    sa = kubectl.json("auth", "whoami", f"--as={account}")["status"]["userInfo"]
    assert sa == {
        "username": account,
        "groups": ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"],
    }


def test_requests_as_another_user_are_refused_plainly(kubectl: Kubectl) -> None:
    refused = kubectl.run("get", "pods", "--as=bob", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith(
        'Error from server (Forbidden): pods is forbidden: User "bob" cannot list resource '
        '"pods" in API group "" in the namespace "default": the Kubernetes API simulator does '
        "not evaluate RBAC"
    )
    # Discovery, readable by every authenticated user, is served.
    assert "deployments" in kubectl.run("api-resources", "--as=bob", "--api-group=apps").stdout
    as_master = kubectl.run("get", "pods", "--as=bob", "--as-group=system:masters")
    assert as_master.returncode == 0


def test_kubectl_auth_can_i_list(kubectl: Kubectl) -> None:
    mine = kubectl.run("auth", "can-i", "--list").stdout.splitlines()
    assert mine[1].split() == ["*.*", "[]", "[]", "[*]"]
    theirs = kubectl.run("auth", "can-i", "--list", "--as=bob")
    assert "the list may be incomplete" in theirs.stderr


def test_subject_access_reviews_through_the_official_client(sim: KubeSimulator, k8s: Any) -> None:
    from kubernetes import client

    api: Any = client.AuthorizationV1Api(k8s)

    about_bob = api.create_subject_access_review(_sar("bob")).status
    assert about_bob.allowed is False
    assert not about_bob.denied
    assert about_bob.reason == "the Kubernetes API simulator does not evaluate RBAC"
    assert about_bob.evaluation_error

    masters = api.create_subject_access_review(_sar("alice", ["system:masters"])).status
    assert masters.allowed is True

    local = _sar("bob")
    local["kind"] = "LocalSubjectAccessReview"
    answer = api.create_namespaced_local_subject_access_review("default", local)
    assert answer.metadata.namespace == "default"
    assert answer.status.allowed is False


def test_access_reviews_are_validated(raw: Raw) -> None:
    status, body, _ = raw.request("POST", f"{AUTHZ}/subjectaccessreviews", _sar())
    assert status == 422
    assert body["message"] == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
        "at least one of user or group must be specified"
    )
    local = _sar("bob")
    local["kind"] = "LocalSubjectAccessReview"
    path = f"{AUTHZ}/namespaces/other/localsubjectaccessreviews"
    status, body, _ = raw.request("POST", path, local)
    assert status == 422
    assert "spec.resourceAttributes.namespace" in body["message"]
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview"}
    status, body, _ = raw.request("POST", f"{AUTHZ}/selfsubjectaccessreviews", review)
    assert status == 422
    assert "exactly one of nonResourceAttributes or resourceAttributes" in json.dumps(body)
